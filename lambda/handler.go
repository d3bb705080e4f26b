package lambda

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// Family is a runtime family: the handler convention and the /opt search
// paths its runtimes share.
type Family string

// Runtime families.
const (
	Python   Family = "python"
	NodeJS   Family = "nodejs"
	Java     Family = "java"
	DotNet   Family = "dotnet"
	Ruby     Family = "ruby"
	Provided Family = "provided"
	// Go is only a deprecated family (go1.x); Go functions run on provided.
	Go Family = "go"
)

// LayerSearchPaths are the directories under /opt a runtime of the family
// adds to its module search path, in order, when the function does not set
// its own (PYTHONPATH, NODE_PATH). ver "" gives patterns matching any
// version. Ruby's gem paths and Java's lib/ are on the list for
// completeness of the layer conventions.
func LayerSearchPaths(fam Family, ver string) []string {
	opt := func(p string) string { return path.Join(OptDir, p) }
	switch fam {
	case Python:
		v := ver
		if v == "" {
			v = "3.*"
		}
		return []string{opt("python/lib/python" + v + "/site-packages"), opt("python")}
	case NodeJS:
		v := ver
		if v == "" {
			v = "*"
		}
		return []string{opt("nodejs/node" + v + "/node_modules"), opt("nodejs/node_modules")}
	case Ruby:
		v := ver
		if v == "" {
			v = "*"
		}
		return []string{opt("ruby/gems/" + v), opt("ruby/lib")}
	case Java:
		return []string{opt("java/lib")}
	}
	return nil
}

// CommonLayerPaths are the /opt directories every runtime uses: bin/ is on
// PATH, lib/ on LD_LIBRARY_PATH, extensions/ holds extensions.
func CommonLayerPaths() []string {
	return []string{path.Join(OptDir, "bin"), path.Join(OptDir, "lib"), path.Join(OptDir, "extensions")}
}

// FamilyFromLangBin infers the runtime family from the names of the files
// in LangBinDir of a base image (python3.12 -> python 3.12, node -> nodejs),
// as the AWS base images install them.
func FamilyFromLangBin(names []string) (fam Family, ver string) {
	var pythons []string
	for _, name := range names {
		switch {
		case strings.HasPrefix(name, "python3.") && !strings.ContainsAny(name[len("python3."):], "-_"):
			pythons = append(pythons, name[len("python"):])
		case name == "node":
			return NodeJS, ""
		case name == "ruby":
			return Ruby, ""
		case name == "java":
			return Java, ""
		case name == "dotnet":
			return DotNet, ""
		}
	}
	if len(pythons) > 0 {
		sort.Strings(pythons)
		return Python, pythons[len(pythons)-1]
	}
	return "", ""
}

// CheckHandlerSyntax refuses a handler Lambda cannot pass as the one CMD
// argument.
func CheckHandlerSyntax(handler string) error {
	if handler == "" {
		return fmt.Errorf("no handler: Lambda passes it as the one CMD argument")
	}
	if strings.ContainsAny(handler, " \t\n\x00") {
		return fmt.Errorf("handler %q: must not contain whitespace", handler)
	}
	return nil
}
