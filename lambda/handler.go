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

// HandlerError says the runtime would not find the handler: the error Lambda
// gives at the first invoke (Runtime.ImportModuleError and friends), at
// build time.
type HandlerError struct {
	Handler string
	Family  Family
	// Searched lists every path looked at; Shown is the same, grouped for
	// reading ("/var/task/app.py (or app/__init__.py, .pyc, .so)").
	Searched []string
	Shown    []string
	Reason   string
}

func (e *HandlerError) Error() string {
	if e.Reason != "" {
		return fmt.Sprintf("handler %q (%s): %s", e.Handler, e.Family, e.Reason)
	}
	return fmt.Sprintf("handler %q (%s): module not found in the image; searched %s",
		e.Handler, e.Family, strings.Join(e.Shown, ", "))
}

// HandlerPlace is one place a runtime looks for the handler's module, in the
// forms it accepts there.
type HandlerPlace struct {
	// Shown is the place for messages.
	Shown string
	// Paths are absolute path patterns (path.Match syntax), any of which
	// satisfies the runtime.
	Paths []string
}

// HandlerPlaces lists, in the runtime's order, where a runtime of the family
// looks for the handler's module. ver is the language version where it
// names search paths ("3.12", "22"; "" matches any). checked is false for
// families whose handler is not looked up in files (java: the class is
// usually inside a jar; provided: the bootstrap decides; unknown families).
// A handler the family cannot parse is a *HandlerError.
func HandlerPlaces(fam Family, ver, taskRoot, handler string) (places []HandlerPlace, checked bool, err error) {
	switch fam {
	case Python:
		// bootstrap.py: rsplit('.', 1), then '/' and '.' both separate packages.
		mod, fn, found := cutLast(handler, ".")
		if !found || mod == "" || fn == "" {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected MODULE.FUNCTION, e.g. "app.handler"`}
		}
		rel := strings.ReplaceAll(strings.ReplaceAll(mod, "/", "."), ".", "/")
		for _, r := range append([]string{taskRoot}, LayerSearchPaths(fam, ver)...) {
			base := path.Join(r, rel)
			places = append(places, HandlerPlace{
				Shown: base + ".py (or " + path.Base(base) + "/__init__.py, .pyc, .so)",
				Paths: []string{base + ".py", base + "/__init__.py", base + ".pyc", base + ".so", base + ".*.so"},
			})
		}
		return places, true, nil
	case NodeJS:
		// The Node runtime splits at the first '.' after the last '/'.
		mod, _, found := cutModule(handler)
		if !found {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected FILE.FUNCTION, e.g. "index.handler"`}
		}
		for _, r := range append([]string{taskRoot}, LayerSearchPaths(fam, ver)...) {
			base := path.Join(r, mod)
			places = append(places, HandlerPlace{Shown: base + ".{js,mjs,cjs}", Paths: []string{base + ".js", base + ".mjs", base + ".cjs"}})
		}
		return places, true, nil
	case Ruby:
		// "file.method" or "dir/file.Module::Class.method": the file is
		// everything before the first '.' after the last '/'.
		mod, _, found := cutModule(handler)
		if !found {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected FILE.METHOD, e.g. "lambda_function.lambda_handler"`}
		}
		for _, r := range []string{taskRoot, path.Join(OptDir, "ruby/lib")} {
			p := path.Join(r, mod) + ".rb"
			places = append(places, HandlerPlace{Shown: p, Paths: []string{p}})
		}
		return places, true, nil
	case DotNet:
		// "Assembly::Namespace.Class::Method" or, for executable
		// assemblies, "Assembly"; the assembly is a .dll in the task root.
		asm, _, _ := strings.Cut(handler, "::")
		if asm == "" || strings.Contains(asm, "/") {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected ASSEMBLY::NAMESPACE.CLASS::METHOD or ASSEMBLY`}
		}
		p := path.Join(taskRoot, asm+".dll")
		return []HandlerPlace{{Shown: p, Paths: []string{p}}}, true, nil
	}
	// java: the handler names a class that normally lives inside a jar under
	// lib/, so finding it means opening jars inside layers — not done; the
	// JVM's own error at init is precise. provided: the bootstrap check.
	return nil, false, nil
}

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

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// cutModule splits "dir/file.fn.more" into "dir/file" and "fn.more".
func cutModule(handler string) (mod, fn string, ok bool) {
	slash := strings.LastIndex(handler, "/")
	dot := strings.Index(handler[slash+1:], ".")
	if dot <= 0 {
		return "", "", false
	}
	dot += slash + 1
	mod, fn = handler[:dot], handler[dot+1:]
	if fn == "" || strings.HasPrefix(mod, "/") {
		return "", "", false
	}
	return mod, fn, true
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
