package lambda

import (
	"fmt"
	"path"
	"strings"
)

// The Python lookup follows aws/aws-lambda-python-runtime-interface-client,
// awslambdaric/bootstrap.py _get_handler (commit 46e4c6a, 2026-06): the
// handler splits at its last "." into module and function (no "." is
// Runtime.MalformedHandlerName), "/" in the module becomes ".", and
// importlib.import_module imports it; an ImportError is
// Runtime.ImportModuleError, a missing attribute Runtime.HandlerNotFound.
//
// The import is CPython's PathFinder/FileFinder (Lib/importlib/_bootstrap
// _external.py): each dotted component is looked up in the search
// locations of its parent (sys.path for the first), and in each directory
// D, for the loaders in order — extension modules
// (importlib.machinery.EXTENSION_SUFFIXES: .cpython-XY-<triplet>.so,
// .abi3.so, .so), source (.py), sourceless bytecode (.pyc beside, not in
// __pycache__) — first D/name/__init__<suffix> (a regular package), then
// D/name<suffix> (a module); a directory without __init__ is a namespace
// portion, used only when no entry has a module or regular package
// (PEP 420). sys.path is the task root (the working directory of
// "python -m awslambdaric"), then /opt/python/lib/pythonX.Y/site-packages
// and /opt/python (or PYTHONPATH when the image sets it: lambda.md), then
// the runtime's own directories.

func pythonLibDir(ver string) string {
	return path.Join(path.Dir(LangBinDir), "lib", "python"+ver)
}

type pyLookup struct {
	fsys     FS
	in       HandlerInput
	searched []string
	shown    []string
}

// sysPath is the runtime's sys.path, in order.
func (l *pyLookup) sysPath() []string {
	ver := l.in.Version
	if ver == "" {
		ver = "3.*"
	}
	out := []string{l.in.TaskRoot}
	if v := l.in.Env["PYTHONPATH"]; v != "" {
		out = append(out, envList(v)...)
	} else {
		for _, p := range LayerSearchPaths(Python, l.in.Version) {
			out = append(out, searchDirs(l.fsys, p)...)
		}
	}
	out = append(out, path.Dir(RuntimeBootstrap))
	for _, lib := range searchDirs(l.fsys, pythonLibDir(ver)) {
		out = append(out, lib, path.Join(lib, "lib-dynload"), path.Join(lib, "site-packages"))
	}
	return out
}

// extSuffixes are EXTENSION_SUFFIXES for the version and architecture; a
// "*" stands for an unknown tag.
func (l *pyLookup) extSuffixes() []string {
	tag, triplet := "*", "*"
	if l.in.Version != "" {
		tag = strings.ReplaceAll(l.in.Version, ".", "")
	}
	switch l.in.Arch {
	case X8664:
		triplet = "x86_64-linux-gnu"
	case ARM64:
		triplet = "aarch64-linux-gnu"
	}
	return []string{".cpython-" + tag + "-" + triplet + ".so", ".abi3.so", ".so"}
}

// file returns dir/name+suffix when it is a regular file ("*" in the
// suffix matches any run of characters without "/").
func (l *pyLookup) file(dir, name, suffix string) string {
	if !strings.Contains(suffix, "*") {
		if p := path.Join(dir, name+suffix); isFile(l.fsys, p) {
			return p
		}
		return ""
	}
	for _, n := range readDir(l.fsys, dir) {
		if ok, _ := path.Match(name+suffix, n); ok && !strings.Contains(n[len(name):], "/") {
			if p := path.Join(dir, n); isFile(l.fsys, p) {
				return p
			}
		}
	}
	return ""
}

// pySpec is what FileFinder returns: a module file, a package (file and
// its directory) or a namespace package (directories only).
type pySpec struct {
	file string
	dirs []string
}

func (l *pyLookup) findSpec(search []string, name string) *pySpec {
	suffixes := append(l.extSuffixes(), ".py", ".pyc")
	var portions []string
	for _, d := range search {
		base := path.Join(d, name)
		l.searched = append(l.searched, base+".py", base+"/__init__.py", base+".pyc", base+".so")
		// The runtime's own directories are shown only when the image has them.
		if isDir(l.fsys, d) || !strings.HasPrefix(d, path.Dir(LangBinDir)) && d != path.Dir(RuntimeBootstrap) {
			l.shown = append(l.shown, base+".py (or "+name+"/__init__.py, .pyc, .so)")
		}
		namespace := false
		if isDir(l.fsys, base) {
			for _, s := range suffixes {
				if f := l.file(base, "__init__", s); f != "" {
					return &pySpec{file: f, dirs: []string{base}}
				}
			}
			namespace = true
		}
		for _, s := range suffixes {
			if f := l.file(d, name, s); f != "" {
				return &pySpec{file: f}
			}
		}
		if namespace {
			portions = append(portions, base)
		}
	}
	if len(portions) > 0 {
		return &pySpec{dirs: portions}
	}
	return nil
}

func resolvePython(fsys FS, in HandlerInput) (*Resolution, error) {
	mod, fn, ok := cutLast(in.Handler, ".")
	if !ok {
		return nil, in.herr(ErrMalformedHandler, `expected MODULE.FUNCTION, e.g. "app.handler"`)
	}
	dotted := strings.ReplaceAll(mod, "/", ".")
	comps := strings.Split(dotted, ".")
	for _, c := range comps {
		if c == "" {
			return nil, in.herr(ErrMalformedHandler, fmt.Sprintf("module %q has an empty component", mod))
		}
	}
	if fn == "" {
		return nil, in.herr(ErrHandlerNotFound, "no function after the module name")
	}
	l := &pyLookup{fsys: fsys, in: in}
	search := l.sysPath()
	for i, c := range comps {
		l.shown = nil
		spec := l.findSpec(search, c)
		name := strings.Join(comps[:i+1], ".")
		if spec == nil {
			e := in.herr(ErrImportModule, fmt.Sprintf("Unable to import module %q: No module named %q", mod, name))
			e.Searched, e.Shown, e.Path = l.searched, l.shown, path.Join(search[0], c+".py")
			e.Nearby = l.nearby(comps[len(comps)-1], fn)
			return nil, e
		}
		last := i == len(comps)-1
		if !last && spec.dirs == nil {
			e := in.herr(ErrImportModule, fmt.Sprintf("Unable to import module %q: No module named %q; %q (%s) is not a package", mod, strings.Join(comps[:i+2], "."), name, spec.file))
			e.Searched, e.Path = l.searched, spec.file
			return nil, e
		}
		if last {
			if spec.file == "" {
				e := in.herr(ErrHandlerNotFound, fmt.Sprintf("module %q is a namespace package (%s, no __init__.py): it imports, but defines no %q", mod, strings.Join(spec.dirs, ", "), fn))
				e.Searched, e.Path = l.searched, path.Join(spec.dirs[0], "__init__.py")
				return nil, e
			}
			return &Resolution{Found: spec.file, Loaded: pyKind(spec.file)}, nil
		}
		search = spec.dirs
	}
	return nil, in.herr(ErrImportModule, "no module") // not reached: comps is never empty
}

func pyKind(p string) string {
	switch {
	case strings.HasSuffix(p, ".py"):
		return "Python source"
	case strings.HasSuffix(p, ".pyc"):
		return "Python bytecode (no source)"
	}
	return "extension module"
}

// nearby finds files named like the module that the import does not reach.
func (l *pyLookup) nearby(name, fn string) []string {
	exts := l.extSuffixes()
	sysPath := l.sysPath()
	return findNearby(l.fsys, []string{l.in.TaskRoot, OptDir}, func(p string, f File) string {
		base, dir := path.Base(p), path.Dir(p)
		modPath := ""
		switch {
		case path.Base(dir) == "__pycache__" && strings.HasPrefix(base, name+".") && strings.HasSuffix(base, ".pyc"):
			return fmt.Sprintf("found %s: Python loads bytecode from __pycache__ only beside its %s.py source", p, name)
		case strings.HasPrefix(base, name+".cpython-") && strings.HasSuffix(base, ".so"):
			if ok, _ := path.Match(name+exts[0], base); !ok {
				return fmt.Sprintf("found %s: this Python loads only %s, %s.abi3.so or %s.so", p, name+exts[0], name, name)
			}
			modPath = dir + "/" + name
		case base == name+".py" || base == name+".pyc" || base == name+".so" || base == name+".abi3.so":
			modPath = dir + "/" + name
		case base == "__init__.py" && path.Base(dir) == name:
			modPath = dir
		default:
			return ""
		}
		for _, e := range sysPath {
			if rel, ok := strings.CutPrefix(modPath, e+"/"); ok && !strings.Contains(rel, "-") {
				return fmt.Sprintf("found %s: not importable under that name; the handler %q would load it", p, rel+"."+fn)
			}
		}
		return fmt.Sprintf("found %s: not on the runtime's sys.path", p)
	})
}

func cutLast(s, sep string) (before, after string, found bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}
