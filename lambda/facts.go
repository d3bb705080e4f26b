package lambda

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"fmt"
	"path"
	"slices"
	"strings"
)

// FileFacts is what a check needs from a file's content, recorded once
// while its layer is read or written (checks.ReadLayer, layerconv), so
// that no check opens a layer twice: the fields of a package.json Node.js
// resolves with, the classes a jar on the Java runtime's class path holds,
// and a .pyc's header (whether Python will use it or compile its source
// again at every cold start).
type FileFacts struct {
	// Package is set for a package.json that parsed.
	Package *PackageJSON `json:"pkg,omitempty"`
	// Classes are a jar's class entries without ".class", sorted
	// ("com/example/Handler", "com/example/Handler$Inner").
	Classes []string `json:"classes,omitempty"`
	// Pyc is a .pyc file's first PycHeaderLen bytes as they are (PEP 552:
	// magic, flags, then the source's mtime and size, or a hash); what they
	// mean is Python's business (layerconv.PycStamp). A .pyc shorter than
	// the header has no facts.
	Pyc []byte `json:"pyc,omitempty"`
	// Unread says why the content was not recorded (too large, not a zip,
	// not JSON): a lookup that needs it cannot decide and says so.
	Unread string `json:"unread,omitempty"`
}

// PackageJSON holds the package.json fields Node.js module resolution and
// the Lambda runtime's ES module detection read.
type PackageJSON struct {
	Main string `json:"main,omitempty"`
	Type string `json:"type,omitempty"`
	// Exports: the package has an "exports" map, which takes precedence
	// over "main" when the package is reached through node_modules or
	// NODE_PATH (not modelled: a lookup through it is not refused).
	Exports bool `json:"exports,omitempty"`
}

// Bounds on what is buffered to record facts. A jar's central directory is
// at its end, so the whole jar is held in memory: jars above MaxJarFacts
// are not read and a handler that may live in one is not refused (the
// finding says the jar was too large to check). package.json files are
// small; one above MaxPackageJSONFacts is not read, and Node.js's answer
// from it is not known.
const (
	MaxJarFacts         = 64 << 20
	MaxPackageJSONFacts = 1 << 20
	// maxJarClasses bounds the class names kept per jar.
	maxJarClasses = 200_000
	// PycHeaderLen is how much of a .pyc is recorded: the PEP 552 header,
	// four little-endian 32-bit words.
	PycHeaderLen = 16
)

// javaLibDirs are the directories whose jars the Java runtime puts on the
// class path (aws-lambda-java-libs, CustomerClassLoader: the task root,
// then <task root>/lib/*.jar, then /opt/java/lib/*.jar).
func javaLibDirs(taskRoot string) []string {
	return []string{path.Join(taskRoot, "lib"), path.Join(OptDir, "java/lib")}
}

// WantsFacts reports whether the content of the regular file at p (a tar
// name, with or without the leading slash) is worth recording: a
// package.json anywhere, a jar directly in one of the Java class path
// directories of the default task root (images with another task root get
// their jars checked as "not recorded", not refused), or any .pyc (its
// header only: see FactsFromHead).
func WantsFacts(p string) bool {
	p = path.Clean("/" + p)
	if path.Base(p) == "package.json" || isPyc(p) {
		return true
	}
	return isClassPathJar(path.Dir(p), path.Base(p), DefaultTaskRoot)
}

// isPyc: every name ending in .pyc, orphans and odd names included; which
// source a header belongs to is decided where it is read, by Python's
// rules, and a header costs 16 bytes.
func isPyc(p string) bool { return strings.HasSuffix(p, ".pyc") }

// FactsFromHead reports whether the facts of the wanted file at p come from
// its first FactsLimit(p) bytes alone (a .pyc's header): such a file is
// never too large, and only its head is kept.
func FactsFromHead(p string) bool { return isPyc(p) }

// isClassPathJar applies CustomerClassLoader's filter: a name ending in
// ".jar" with at least one character before it, directly in a lib dir.
func isClassPathJar(dir, name, taskRoot string) bool {
	return len(name) > len(".jar") && strings.HasSuffix(name, ".jar") && slices.Contains(javaLibDirs(taskRoot), dir)
}

// FactsLimit is how many bytes of the file at p ReadFacts needs: all of
// it, up to this bound, or its head (FactsFromHead).
func FactsLimit(p string) int64 {
	if isPyc(p) {
		return PycHeaderLen
	}
	if path.Base(p) == "package.json" {
		return MaxPackageJSONFacts
	}
	return MaxJarFacts
}

// TooLargeFacts is the record of a wanted file above FactsLimit.
func TooLargeFacts(p string, size int64) *FileFacts {
	return &FileFacts{Unread: fmt.Sprintf("%d bytes, above the %d bytes read to check it", size, FactsLimit(p))}
}

// ReadFacts records the facts of a wanted file from its whole content, or
// from its first FactsLimit(p) bytes when FactsFromHead(p); nil when there
// is nothing to record (a .pyc shorter than its header).
func ReadFacts(p string, content []byte) *FileFacts {
	if isPyc(p) {
		if len(content) < PycHeaderLen {
			return nil
		}
		return &FileFacts{Pyc: bytes.Clone(content[:PycHeaderLen])}
	}
	if path.Base(p) == "package.json" {
		var raw struct {
			Main    any             `json:"main"`
			Type    any             `json:"type"`
			Exports json.RawMessage `json:"exports"`
		}
		if err := json.Unmarshal(content, &raw); err != nil {
			return &FileFacts{Unread: "not JSON: " + err.Error()}
		}
		pj := &PackageJSON{Exports: len(raw.Exports) > 0 && string(raw.Exports) != "null"}
		// Node.js ignores a "main" that is not a string, and the runtime
		// compares "type" to the string "module".
		pj.Main, _ = raw.Main.(string)
		pj.Type, _ = raw.Type.(string)
		return &FileFacts{Package: pj}
	}
	zr, err := zip.NewReader(bytes.NewReader(content), int64(len(content)))
	if err != nil {
		return &FileFacts{Unread: "not a readable jar: " + err.Error()}
	}
	f := &FileFacts{Classes: []string{}}
	for _, e := range zr.File {
		name, ok := strings.CutSuffix(e.Name, ".class")
		if !ok || strings.HasSuffix(e.Name, "/") {
			continue
		}
		if len(f.Classes) == maxJarClasses {
			return &FileFacts{Unread: fmt.Sprintf("more than %d classes", maxJarClasses)}
		}
		f.Classes = append(f.Classes, name)
	}
	slices.Sort(f.Classes)
	f.Classes = slices.Compact(f.Classes)
	return f
}
