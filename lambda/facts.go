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

// FileFacts is what a handler lookup needs from a file's content, recorded
// once while its layer is read or written (checks.ReadLayer,
// layerconv), so that no check opens a layer twice: the fields of a
// package.json Node.js resolves with, and the classes a jar on the Java
// runtime's class path holds.
type FileFacts struct {
	// Package is set for a package.json that parsed.
	Package *PackageJSON `json:"pkg,omitempty"`
	// Classes are a jar's class entries without ".class", sorted
	// ("com/example/Handler", "com/example/Handler$Inner").
	Classes []string `json:"classes,omitempty"`
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
)

// javaLibDirs are the directories whose jars the Java runtime puts on the
// class path (aws-lambda-java-libs, CustomerClassLoader: the task root,
// then <task root>/lib/*.jar, then /opt/java/lib/*.jar).
func javaLibDirs(taskRoot string) []string {
	return []string{path.Join(taskRoot, "lib"), path.Join(OptDir, "java/lib")}
}

// WantsFacts reports whether the content of the regular file at p (a tar
// name, with or without the leading slash) is worth recording: a
// package.json anywhere, or a jar directly in one of the Java class path
// directories of the default task root. Images with another task root get
// their jars checked as "not recorded" (not refused).
func WantsFacts(p string) bool {
	p = path.Clean("/" + p)
	if path.Base(p) == "package.json" {
		return true
	}
	return isClassPathJar(path.Dir(p), path.Base(p), DefaultTaskRoot)
}

// isClassPathJar applies CustomerClassLoader's filter: a name ending in
// ".jar" with at least one character before it, directly in a lib dir.
func isClassPathJar(dir, name, taskRoot string) bool {
	return len(name) > len(".jar") && strings.HasSuffix(name, ".jar") && slices.Contains(javaLibDirs(taskRoot), dir)
}

// FactsLimit is how many bytes of the file at p ReadFacts needs.
func FactsLimit(p string) int64 {
	if path.Base(p) == "package.json" {
		return MaxPackageJSONFacts
	}
	return MaxJarFacts
}

// TooLargeFacts is the record of a wanted file above FactsLimit.
func TooLargeFacts(p string, size int64) *FileFacts {
	return &FileFacts{Unread: fmt.Sprintf("%d bytes, above the %d bytes read to check it", size, FactsLimit(p))}
}

// ReadFacts records the facts of a wanted file from its whole content.
func ReadFacts(p string, content []byte) *FileFacts {
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
