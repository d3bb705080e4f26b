package lambda

import (
	"fmt"
	"path"
	"slices"
	"strings"
)

// The Node.js lookup follows aws/aws-lambda-nodejs-runtime-interface-client,
// src/UserFunction.js (commit da5777a, 2025-08), which the AWS Node.js base
// images run:
//
//   - load: a handler containing ".." is refused (MalformedHandlerName); the
//     module root is what precedes path.basename(handler); the basename
//     splits at its first "." into module and function path (no "." is
//     MalformedHandlerName).
//   - _tryRequire, over P = path.resolve(taskRoot, moduleRoot, module):
//     1. if P exists (file or directory), require(P): CommonJS resolution of
//     an absolute path, whose failure is final (ImportModuleError);
//     2. P.js through require when the nearest package.json (stopping at a
//     node_modules directory) does not say "type": "module";
//     3. P.js through import when it does, then P.mjs (import), then P.cjs
//     (require);
//     4. require.resolve(module, {paths: [taskRoot, moduleRoot]}): the
//     node_modules directories above both, then NODE_PATH — CommonJS
//     resolution, which tries X, X.js, X.json, X.node and directories,
//     never .mjs or .cjs.
//
// CommonJS resolution is Node.js's "All together" algorithm
// (nodejs.org/api/modules.html: LOAD_AS_FILE, LOAD_INDEX,
// LOAD_AS_DIRECTORY, LOAD_NODE_MODULES; Module._nodeModulePaths). NODE_PATH
// is the bootstrap's default when the image does not set it (lambda.md).

// nodeCJSExts are the extensions require() tries (Module._extensions).
var nodeCJSExts = []string{".js", ".json", ".node"}

// nodeRuntimeDirs are the NODE_PATH entries after the layer paths, before
// the task root (the Node.js base's bootstrap, lambda.md).
func nodeRuntimeDirs() []string {
	return []string{path.Join(path.Dir(RuntimeBootstrap), "node_modules"), path.Dir(RuntimeBootstrap)}
}

func resolveNode(fsys FS, in HandlerInput) (*Resolution, error) {
	h := in.Handler
	if strings.Contains(h, "..") {
		return nil, in.herr(ErrMalformedHandler, `".." is not allowed in a Node.js handler (use an absolute path for a root outside the task root)`)
	}
	base := jsBasename(h)
	moduleRoot := h[:strings.Index(h, base)]
	module, fn, ok := strings.Cut(base, ".")
	if !ok {
		return nil, in.herr(ErrMalformedHandler, `expected FILE.FUNCTION, e.g. "index.handler"`)
	}
	if fn == "" {
		return nil, in.herr(ErrHandlerNotFound, "no function after the module name")
	}
	n := &nodeLookup{fsys: fsys, in: in}
	p := jsResolve(in.TaskRoot, moduleRoot, module)

	// 1. The path itself, through require().
	n.search(p, p+" (file or directory, through require)")
	if exists(fsys, p) {
		if f := n.requirePath(p); f != "" {
			return n.found(f, ""), nil
		}
		e := in.herr(ErrImportModule, fmt.Sprintf("Cannot find module %q: it exists, but require() finds no %s file beside it and no package.json main or index.js in it", p, strings.Join(nodeCJSExts, "/")))
		e.Path, e.Searched, e.Shown = p, n.searched, n.shown
		return nil, e
	}
	// 2 and 3: .js by the nearest package.json type, .mjs, .cjs.
	n.search(p+".js", "")
	n.search(p+".mjs", "")
	n.search(p+".cjs", p+".{js,mjs,cjs}")
	for _, ext := range []string{".js", ".mjs", ".cjs"} {
		if isFile(fsys, p+ext) {
			return n.found(p+ext, ""), nil
		}
	}
	// 4. require.resolve(module, {paths: [taskRoot, moduleRoot]}).
	var dirs []string
	add := func(ds ...string) {
		for _, d := range ds {
			if !slices.Contains(dirs, d) {
				dirs = append(dirs, d)
			}
		}
	}
	add(nodeModulePaths(in.TaskRoot)...)
	add(n.nodePath()...)
	add(nodeModulePaths(jsResolve(in.TaskRoot, moduleRoot))...)
	if module != "" {
		for _, d := range dirs {
			x := path.Join(d, module)
			n.search(x, "")
			for _, ext := range nodeCJSExts {
				n.search(x+ext, "")
			}
			if pj := path.Join(x, "package.json"); isDir(fsys, x) && exists(fsys, pj) {
				if _, f := facts(fsys, pj); f != nil && f.Package != nil && f.Package.Exports {
					// LOAD_PACKAGE_EXPORTS comes first for a package name.
					n.res.Warnings = append(n.res.Warnings, fmt.Sprintf("%s has an exports map, which decides what require loads from the package: not checked", pj))
					n.res.Found, n.res.Loaded = x, "package (through its exports map)"
					return &n.res, nil
				}
			}
			if f := n.requirePath(x); f != "" {
				return n.found(f, "through require.resolve from "+d), nil
			}
		}
		n.shown = append(n.shown, fmt.Sprintf("require.resolve(%q) in %s (%s or a directory)", module, strings.Join(dirs, ", "), strings.Join(nodeCJSExts, ", ")))
	}
	e := in.herr(ErrImportModule, fmt.Sprintf("Cannot find module %q", module))
	e.Path, e.Searched, e.Shown = p+".js", n.searched, n.shown
	e.Nearby = n.nearby(module, fn, dirs)
	return nil, e
}

type nodeLookup struct {
	fsys     FS
	in       HandlerInput
	searched []string
	shown    []string
	res      Resolution
}

func (n *nodeLookup) search(p, shown string) {
	n.searched = append(n.searched, p)
	if shown != "" {
		n.shown = append(n.shown, shown)
	}
}

func (n *nodeLookup) found(p, how string) *Resolution {
	n.res.Found = p
	n.res.Loaded = n.kind(p)
	if how != "" {
		n.res.Loaded += " " + how
	}
	return &n.res
}

// kind says how Node.js loads the file: by extension, and for .js by the
// nearest package.json "type" (nodejs.org/api/packages.html, "type").
func (n *nodeLookup) kind(p string) string {
	switch path.Ext(p) {
	case ".mjs":
		return "ES module"
	case ".cjs":
		return "CommonJS"
	case ".json":
		return "JSON"
	case ".node":
		return "native addon"
	case ".js":
		if n.typeModule(path.Dir(p)) {
			return "ES module"
		}
	}
	return "CommonJS"
}

// typeModule is the runtime's _hasFolderPackageJsonTypeModule: the nearest
// package.json decides; the walk stops at a node_modules directory and at
// the root; an unreadable package.json counts as not "module".
func (n *nodeLookup) typeModule(dir string) bool {
	for {
		if strings.HasSuffix(dir, "/node_modules") {
			return false
		}
		pj := path.Join(dir, "package.json")
		if exists(n.fsys, pj) {
			_, f := facts(n.fsys, pj)
			if f == nil || f.Package == nil {
				return false
			}
			return f.Package.Type == "module"
		}
		if dir == "/" {
			return false
		}
		dir = path.Dir(dir)
	}
}

// nodePath is NODE_PATH: the image's, else the bootstrap's default with
// the version's layer directory (every version's present, when unknown).
func (n *nodeLookup) nodePath() []string {
	if v := n.in.Env["NODE_PATH"]; v != "" {
		return envList(v)
	}
	var out []string
	for _, p := range LayerSearchPaths(NodeJS, n.in.Version) {
		out = append(out, searchDirs(n.fsys, p)...)
	}
	return append(append(out, nodeRuntimeDirs()...), n.in.TaskRoot)
}

// requirePath is CommonJS resolution of an absolute path X: LOAD_AS_FILE
// then LOAD_AS_DIRECTORY. It returns the file loaded, or "".
func (n *nodeLookup) requirePath(x string) string {
	if f := n.loadAsFile(x); f != "" {
		return f
	}
	if !isDir(n.fsys, x) {
		return ""
	}
	pj := path.Join(x, "package.json")
	if exists(n.fsys, pj) {
		_, f := facts(n.fsys, pj)
		switch {
		case f == nil || f.Package == nil:
			n.res.Warnings = append(n.res.Warnings, fmt.Sprintf("%s was not read (%s): its main field was not checked", pj, unreadWhy(f)))
		case f.Package.Main != "":
			m := path.Join(x, f.Package.Main)
			if r := n.loadAsFile(m); r != "" {
				return r
			}
			if r := n.loadIndex(m); r != "" {
				return r
			}
		}
	}
	return n.loadIndex(x)
}

func (n *nodeLookup) loadAsFile(x string) string {
	if isFile(n.fsys, x) {
		return x
	}
	for _, ext := range nodeCJSExts {
		if isFile(n.fsys, x+ext) {
			return x + ext
		}
	}
	return ""
}

func (n *nodeLookup) loadIndex(x string) string {
	for _, ext := range nodeCJSExts {
		if p := path.Join(x, "index"+ext); isFile(n.fsys, p) {
			return p
		}
	}
	return ""
}

// nearby finds the module's file where the runtime does not look, or in a
// form it does not load there.
func (n *nodeLookup) nearby(module, fn string, nodePath []string) []string {
	if module == "" {
		return nil
	}
	names := []string{module + ".js", module + ".mjs", module + ".cjs", module + ".json", module + ".node"}
	return findNearby(n.fsys, []string{n.in.TaskRoot, OptDir}, func(p string, f File) string {
		if !slices.Contains(names, path.Base(p)) {
			if path.Base(p) == "index.js" && path.Base(path.Dir(p)) == module {
				return fmt.Sprintf("found %s: the runtime would load its directory with the handler %q", p, nodeHandlerFor(n.in.TaskRoot, path.Dir(p), fn))
			}
			return ""
		}
		if slices.Contains(nodePath, path.Dir(p)) {
			if ext := path.Ext(p); ext == ".mjs" || ext == ".cjs" {
				return fmt.Sprintf("found %s: the runtime loads %s files only from the task root; from NODE_PATH it loads through require.resolve, which tries only %s", p, ext, strings.Join(nodeCJSExts, ", "))
			}
		}
		return fmt.Sprintf("found %s: not where the runtime looks; the handler %q would load it", p, nodeHandlerFor(n.in.TaskRoot, strings.TrimSuffix(p, path.Ext(p)), fn))
	})
}

// nodeHandlerFor is the handler naming the module at p (without
// extension): relative to the task root when under it, else absolute (the
// runtime resolves an absolute module root as is).
func nodeHandlerFor(taskRoot, p, fn string) string {
	if rel, ok := strings.CutPrefix(p, taskRoot+"/"); ok {
		return rel + "." + fn
	}
	return p + "." + fn
}

// jsBasename is Node.js's path.basename: the last segment, trailing
// slashes ignored.
func jsBasename(p string) string {
	p = strings.TrimRight(p, "/")
	return p[strings.LastIndex(p, "/")+1:]
}

// jsResolve is Node.js's path.resolve: segments joined left to right, an
// absolute one starting over.
func jsResolve(segs ...string) string {
	p := "/"
	for _, s := range segs {
		if s == "" {
			continue
		}
		if path.IsAbs(s) {
			p = s
		} else {
			p = path.Join(p, s)
		}
	}
	return path.Clean(p)
}

// nodeModulePaths is Module._nodeModulePaths: DIR/node_modules for DIR
// from dir up to the root, skipping directories that are themselves
// node_modules.
func nodeModulePaths(dir string) []string {
	var out []string
	for {
		if path.Base(dir) != "node_modules" && dir != "/" {
			out = append(out, path.Join(dir, "node_modules"))
		}
		if dir == "/" {
			break
		}
		dir = path.Dir(dir)
	}
	return append(out, "/node_modules")
}

func unreadWhy(f *FileFacts) string {
	if f == nil {
		return "not recorded"
	}
	if f.Unread != "" {
		return f.Unread
	}
	return "no fields recorded"
}
