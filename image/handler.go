package image

import (
	"fmt"
	"path"
	"sort"
	"strings"
)

// HandlerError says the runtime would not find the handler's module: the
// error Lambda gives at the first invoke (Runtime.ImportModuleError and
// friends), at build time.
type HandlerError struct {
	Handler string
	Family  string
	// Searched lists every path looked at; Shown is the same, grouped for
	// reading ("/var/task/app.{py,pyc,so}").
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

// candGroup is one place the runtime looks, in the forms it accepts.
type candGroup struct {
	shown string
	paths []string
}

func flatten(groups []candGroup) (paths, shown []string) {
	for _, g := range groups {
		paths = append(paths, g.paths...)
		shown = append(shown, g.shown)
	}
	return paths, shown
}

// detectFamily infers the runtime family from the base's own files: the AWS
// base images install the language under /var/lang/bin.
func detectFamily(view fsView) (fam, ver string) {
	var pythons []string
	for k, e := range view {
		if e.Type == entDir {
			continue
		}
		name, ok := strings.CutPrefix(k, "var/lang/bin/")
		if !ok || strings.Contains(name, "/") {
			continue
		}
		switch {
		case strings.HasPrefix(name, "python3.") && !strings.ContainsAny(name[len("python3."):], "-_"):
			pythons = append(pythons, name[len("python"):])
		case name == "node":
			return "nodejs", ""
		case name == "ruby":
			return "ruby", ""
		case name == "java":
			return "java", ""
		case name == "dotnet":
			return "dotnet", ""
		}
	}
	if len(pythons) > 0 {
		sort.Strings(pythons)
		return "python", pythons[len(pythons)-1]
	}
	return "", ""
}

// handlerCandidates lists where the runtime looks for the handler's module,
// as absolute path patterns (path.Match syntax). ok=false means this family
// is not checked; the reason says why.
func handlerCandidates(fam, ver, taskRoot, handler string) (cands []candGroup, ok bool, err error) {
	switch fam {
	case "python":
		// bootstrap.py: rsplit('.', 1), then '/' and '.' both separate packages.
		mod, fn, found := cutLast(handler, ".")
		if !found || mod == "" || fn == "" {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected MODULE.FUNCTION, e.g. "app.handler"`}
		}
		rel := strings.ReplaceAll(strings.ReplaceAll(mod, "/", "."), ".", "/")
		roots := []string{taskRoot}
		if ver != "" {
			roots = append(roots, "/opt/python/lib/python"+ver+"/site-packages")
		} else {
			roots = append(roots, "/opt/python/lib/python3.*/site-packages")
		}
		roots = append(roots, "/opt/python")
		for _, r := range roots {
			base := path.Join(r, rel)
			cands = append(cands, candGroup{
				shown: base + ".py (or " + path.Base(base) + "/__init__.py, .pyc, .so)",
				paths: []string{base + ".py", base + "/__init__.py", base + ".pyc", base + ".so", base + ".*.so"},
			})
		}
		return cands, true, nil
	case "nodejs":
		// The Node runtime splits at the first '.' after the last '/'.
		mod, _, found := cutModule(handler)
		if !found {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected FILE.FUNCTION, e.g. "index.handler"`}
		}
		roots := []string{taskRoot}
		if ver != "" {
			roots = append(roots, "/opt/nodejs/node"+ver+"/node_modules")
		} else {
			roots = append(roots, "/opt/nodejs/node*/node_modules")
		}
		roots = append(roots, "/opt/nodejs/node_modules")
		for _, r := range roots {
			base := path.Join(r, mod)
			cands = append(cands, candGroup{shown: base + ".{js,mjs,cjs}", paths: []string{base + ".js", base + ".mjs", base + ".cjs"}})
		}
		return cands, true, nil
	case "ruby":
		// "file.method" or "dir/file.Module::Class.method": the file is
		// everything before the first '.' after the last '/'.
		mod, _, found := cutModule(handler)
		if !found {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected FILE.METHOD, e.g. "lambda_function.lambda_handler"`}
		}
		for _, r := range []string{taskRoot, "/opt/ruby/lib"} {
			p := path.Join(r, mod) + ".rb"
			cands = append(cands, candGroup{shown: p, paths: []string{p}})
		}
		return cands, true, nil
	case "dotnet":
		// "Assembly::Namespace.Class::Method" or, for executable
		// assemblies, "Assembly"; the assembly is a .dll in the task root.
		asm, _, _ := strings.Cut(handler, "::")
		if asm == "" || strings.Contains(asm, "/") {
			return nil, true, &HandlerError{Handler: handler, Family: fam, Reason: `expected ASSEMBLY::NAMESPACE.CLASS::METHOD or ASSEMBLY`}
		}
		p := path.Join(taskRoot, asm+".dll")
		return []candGroup{{shown: p, paths: []string{p}}}, true, nil
	}
	// java: the handler names a class that normally lives inside a jar under
	// lib/, so finding it means opening jars inside layers — not done; the
	// JVM's own error at init is precise. provided: handled by the bootstrap
	// check. Unknown families: nothing to check against.
	return nil, false, nil
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

// findAny returns the first candidate present in the view.
func findAny(view fsView, cands []string) (string, bool) {
	for _, c := range cands {
		if strings.ContainsAny(c, "*?[") {
			if m := view.glob(c); len(m) > 0 {
				sort.Strings(m)
				return m[0], true
			}
			continue
		}
		if view.exists(c) {
			return c, true
		}
	}
	return "", false
}
