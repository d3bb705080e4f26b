package lambda

import (
	"archive/zip"
	"bytes"
	"errors"
	"sort"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// memFS is an image file tree for resolver tests: paths to files, parent
// directories implied.
type memFS map[string]File

func (m memFS) Lstat(p string) (File, bool) {
	if f, ok := m[p]; ok {
		return f, true
	}
	for k := range m {
		if strings.HasPrefix(k, p+"/") || p == "/" {
			return File{Type: Dir, Mode: 0o755}, true
		}
	}
	return File{}, false
}

func (m memFS) ReadDir(p string) []string {
	seen := map[string]bool{}
	pre := strings.TrimSuffix(p, "/") + "/"
	for k := range m {
		if rest, ok := strings.CutPrefix(k, pre); ok {
			seen[strings.Split(rest, "/")[0]] = true
		}
	}
	var out []string
	for n := range seen {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (m memFS) WalkUnder(root string, fn func(string, File)) {
	var keys []string
	for k := range m {
		if strings.HasPrefix(k, root+"/") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		fn(k, m[k])
	}
}

// tree builds a memFS: "path" is a 0644 file, "path/" a directory,
// "path -> target" a symlink, "path=json" a package.json with facts, and
// "path.jar:a/B,c/D" a jar with those classes.
func tree(specs ...string) memFS {
	m := memFS{}
	for _, s := range specs {
		switch {
		case strings.Contains(s, " -> "):
			p, t, _ := strings.Cut(s, " -> ")
			m[p] = File{Type: Symlink, Link: t, Mode: 0o777}
		case strings.HasSuffix(s, "/"):
			m[strings.TrimSuffix(s, "/")] = File{Type: Dir, Mode: 0o755}
		case strings.Contains(s, "="):
			p, j, _ := strings.Cut(s, "=")
			m[p] = File{Type: Regular, Mode: 0o644, Facts: ReadFacts(p, []byte(j))}
		case strings.Contains(s, ".jar:"):
			p, cls, _ := strings.Cut(s, ":")
			m[p] = File{Type: Regular, Mode: 0o644, Facts: ReadFacts(p, jarBytes(strings.Split(cls, ",")...))}
		default:
			m[s] = File{Type: Regular, Mode: 0o644}
		}
	}
	return m
}

func jarBytes(classes ...string) []byte {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	_, _ = zw.Create("META-INF/MANIFEST.MF")
	for _, c := range classes {
		if c != "" {
			_, _ = zw.Create(c + ".class")
		}
	}
	_ = zw.Close()
	return b.Bytes()
}

// resolverCase is one handler lookup and its expected verdict: found (the
// file the runtime loads), or the Lambda error with text the message must
// hold (what was searched, what was found nearby).
type resolverCase struct {
	name    string
	files   memFS
	handler string
	ver     string
	env     map[string]string
	found   string
	loaded  string
	warn    string
	lerr    string
	msg     []string
}

func runResolver(t *testing.T, fam Family, cases []resolverCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			res, err := ResolveHandler(tc.files, HandlerInput{Family: fam, Version: tc.ver, TaskRoot: DefaultTaskRoot, Handler: tc.handler, Arch: X8664, Env: tc.env})
			if tc.lerr != "" || len(tc.msg) > 0 && tc.found == "" {
				var he *HandlerError
				require.True(t, errors.As(err, &he), "want a refusal, got %v (%+v)", err, res)
				assert.Equal(t, tc.lerr, he.LambdaError)
				assert.Equal(t, fam, he.Family)
				for _, m := range tc.msg {
					assert.Contains(t, he.Error(), m)
				}
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.found, res.Found)
			if tc.loaded != "" {
				assert.Equal(t, tc.loaded, res.Loaded)
			}
			if tc.warn != "" {
				require.NotEmpty(t, res.Warnings)
				assert.Contains(t, strings.Join(res.Warnings, "\n"), tc.warn)
			} else {
				assert.Empty(t, res.Warnings)
			}
		})
	}
}

func TestResolveNode(t *testing.T) {
	runResolver(t, NodeJS, []resolverCase{
		// _tryRequire step 2: .js through require when no package.json
		// says "type": "module".
		{name: "js in task root", files: tree("/var/task/index.js"), handler: "index.handler", ver: "22",
			found: "/var/task/index.js", loaded: "CommonJS"},
		// Step 3: .js is imported when the nearest package.json says module.
		{name: "js under type module", files: tree("/var/task/app.js", `/var/task/package.json={"type":"module"}`), handler: "app.handler", ver: "22",
			found: "/var/task/app.js", loaded: "ES module"},
		// The nearest package.json decides, even without a type field.
		{name: "nearest package.json without type", files: tree("/var/task/src/app.js", `/var/task/src/package.json={"name":"x"}`, `/var/task/package.json={"type":"module"}`),
			handler: "src/app.handler", ver: "22", found: "/var/task/src/app.js", loaded: "CommonJS"},
		// Step 3: .mjs and .cjs in the task root, in that order.
		{name: "mjs in task root", files: tree("/var/task/app.mjs"), handler: "app.handler", ver: "20", found: "/var/task/app.mjs", loaded: "ES module"},
		{name: "cjs in a subdirectory", files: tree("/var/task/dist/index.cjs"), handler: "dist/index.handler", ver: "20", found: "/var/task/dist/index.cjs", loaded: "CommonJS"},
		// Issue 18, "refused, works": step 1 requires the existing
		// directory /var/task/lib, and require loads its index.js.
		{name: "directory with index.js", files: tree("/var/task/lib/index.js"), handler: "lib.handler", ver: "20",
			found: "/var/task/lib/index.js", loaded: "CommonJS"},
		// LOAD_AS_DIRECTORY reads package.json main first.
		{name: "directory with package.json main", files: tree("/var/task/svc/dist/main.js", `/var/task/svc/package.json={"main":"dist/main.js"}`), handler: "svc.handler", ver: "20",
			found: "/var/task/svc/dist/main.js"},
		// A main that does not exist falls back to index.js.
		{name: "directory with a missing main", files: tree("/var/task/svc/index.js", `/var/task/svc/package.json={"main":"gone.js"}`), handler: "svc.handler", ver: "20",
			found: "/var/task/svc/index.js"},
		// Step 1's failure is final: a directory named like the module,
		// without index.js, hides app.mjs beside it (require throws
		// MODULE_NOT_FOUND, reported as Runtime.ImportModuleError).
		{name: "directory hides the mjs beside it", files: tree("/var/task/app/readme.md", "/var/task/app.mjs"), handler: "app.handler", ver: "20",
			lerr: ErrImportModule, msg: []string{`Cannot find module "/var/task/app"`}},
		// require('/var/task/app') tries app.js before the directory.
		{name: "js beside a directory of the same name", files: tree("/var/task/app/readme.md", "/var/task/app.js"), handler: "app.handler", ver: "20",
			found: "/var/task/app.js"},
		// Step 4: require.resolve reaches NODE_PATH's /opt directories,
		// with CommonJS extensions.
		{name: "js in /opt/nodejs/node_modules", files: tree("/opt/nodejs/node_modules/shared.js"), handler: "shared.handler", ver: "20",
			found: "/opt/nodejs/node_modules/shared.js"},
		{name: "js in the version's layer dir", files: tree("/opt/nodejs/node20/node_modules/shared.js"), handler: "shared.handler", ver: "20",
			found: "/opt/nodejs/node20/node_modules/shared.js"},
		{name: "package directory in node_modules", files: tree("/opt/nodejs/node_modules/layerfn/index.js"), handler: "layerfn.handler", ver: "20",
			found: "/opt/nodejs/node_modules/layerfn/index.js"},
		// Another version's layer directory is not on NODE_PATH.
		{name: "js in another version's layer dir", files: tree("/opt/nodejs/node18/node_modules/shared.js"), handler: "shared.handler", ver: "20",
			lerr: ErrImportModule, msg: []string{"found /opt/nodejs/node18/node_modules/shared.js: not where the runtime looks"}},
		// Version unknown: every version's layer directory present counts.
		{name: "unknown version", files: tree("/opt/nodejs/node22/node_modules/shared.js"), handler: "shared.handler",
			found: "/opt/nodejs/node22/node_modules/shared.js"},
		// The task root's node_modules comes first in require.resolve.
		{name: "task root node_modules", files: tree("/var/task/node_modules/fn.js"), handler: "fn.handler", ver: "22", found: "/var/task/node_modules/fn.js"},
		// Issue 18, "accepted, fails at invoke": .mjs/.cjs only under /opt.
		// require.resolve never tries .mjs or .cjs, so the runtime answers
		// Runtime.ImportModuleError: Cannot find module 'layerfn'.
		{name: "mjs only in /opt", files: tree("/opt/nodejs/node_modules/layerfn.mjs", "/var/task/x.txt"), handler: "layerfn.handler", ver: "20",
			lerr: ErrImportModule, msg: []string{`Cannot find module "layerfn"`, "found /opt/nodejs/node_modules/layerfn.mjs: the runtime loads .mjs files only from the task root", "/var/task/layerfn.{js,mjs,cjs}", `require.resolve("layerfn") in /var/task/node_modules`}},
		{name: "cjs only in /opt", files: tree("/opt/nodejs/node20/node_modules/layerfn.cjs"), handler: "layerfn.handler", ver: "20",
			lerr: ErrImportModule, msg: []string{"found /opt/nodejs/node20/node_modules/layerfn.cjs: the runtime loads .cjs files only from the task root"}},
		// A module one directory down is found nearby, with the handler
		// that would load it.
		{name: "module in a subdirectory", files: tree("/var/task/src/app.js"), handler: "app.handler", ver: "22",
			lerr: ErrImportModule, msg: []string{`found /var/task/src/app.js: not where the runtime looks; the handler "src/app.handler" would load it`}},
		// An exports map decides what a package loads: not modelled, so
		// accepted with a warning rather than refused.
		{name: "package with exports", files: tree(`/opt/nodejs/node_modules/pkg/package.json={"exports":{".":"./x.cjs"}}`), handler: "pkg.handler", ver: "20",
			found: "/opt/nodejs/node_modules/pkg", warn: "exports map"},
		// The image's NODE_PATH replaces the bootstrap's default.
		{name: "NODE_PATH set", files: tree("/opt/nodejs/node_modules/shared.js"), handler: "shared.handler", ver: "20", env: map[string]string{"NODE_PATH": "/srv/lib"},
			lerr: ErrImportModule},
		{name: "NODE_PATH set, found there", files: tree("/srv/lib/shared.js"), handler: "shared.handler", ver: "20", env: map[string]string{"NODE_PATH": "/srv/lib"},
			found: "/srv/lib/shared.js"},
		// An absolute module root is resolved as is (path.resolve).
		{name: "absolute module root", files: tree("/opt/fn/app.js"), handler: "/opt/fn/app.handler", ver: "20", found: "/opt/fn/app.js"},
		// A symlinked module is followed (fs.existsSync follows links).
		{name: "symlink to the module", files: tree("/var/task/app.js -> ../shared/app.js", "/var/shared/app.js"), handler: "app.handler", ver: "20", found: "/var/task/app.js"},
		{name: "dangling symlink", files: tree("/var/task/app.js -> gone.js"), handler: "app.handler", ver: "20", lerr: ErrImportModule},
		// UserFunction.js refuses ".." and a basename without ".".
		{name: "dot dot", files: tree("/var/task/app.js"), handler: "../task/app.handler", lerr: ErrMalformedHandler},
		{name: "no dot", files: tree("/var/task/app.js"), handler: "app", lerr: ErrMalformedHandler},
	})
}

func TestResolvePython(t *testing.T) {
	so := "/var/task/fast.cpython-312-x86_64-linux-gnu.so"
	runResolver(t, Python, []resolverCase{
		{name: "module", files: tree("/var/task/app.py"), handler: "app.handler", ver: "3.12", found: "/var/task/app.py", loaded: "Python source"},
		// "/" in the module becomes "." (bootstrap.py _get_handler).
		{name: "slash form", files: tree("/var/task/src/app.py"), handler: "src/app.handler", ver: "3.12", found: "/var/task/src/app.py"},
		{name: "nested package", files: tree("/var/task/a/__init__.py", "/var/task/a/b/__init__.py", "/var/task/a/b/c.py"), handler: "a.b.c.handler", ver: "3.12", found: "/var/task/a/b/c.py"},
		// PEP 420: directories without __init__.py are namespace packages.
		{name: "namespace packages", files: tree("/var/task/a/b/c.py"), handler: "a.b.c.handler", ver: "3.12", found: "/var/task/a/b/c.py"},
		{name: "package __init__", files: tree("/var/task/svc/__init__.py"), handler: "svc.handler", ver: "3.12", found: "/var/task/svc/__init__.py"},
		// FileFinder tries extension modules first, with this version's
		// and architecture's tag, then .abi3.so and .so.
		{name: "extension module", files: tree(so), handler: "fast.handler", ver: "3.12", found: so, loaded: "extension module"},
		{name: "abi3 extension", files: tree("/var/task/fast.abi3.so"), handler: "fast.handler", ver: "3.12", found: "/var/task/fast.abi3.so"},
		{name: "extension for another version", files: tree("/var/task/fast.cpython-311-x86_64-linux-gnu.so"), handler: "fast.handler", ver: "3.12",
			lerr: ErrImportModule, msg: []string{"found /var/task/fast.cpython-311-x86_64-linux-gnu.so: this Python loads only fast.cpython-312-x86_64-linux-gnu.so"}},
		// Sourceless bytecode beside, not in __pycache__.
		{name: "pyc only", files: tree("/var/task/app.pyc"), handler: "app.handler", ver: "3.12", found: "/var/task/app.pyc", loaded: "Python bytecode (no source)"},
		{name: "pyc only in __pycache__", files: tree("/var/task/__pycache__/app.cpython-312.pyc"), handler: "app.handler", ver: "3.12",
			lerr: ErrImportModule, msg: []string{"found /var/task/__pycache__/app.cpython-312.pyc: Python loads bytecode from __pycache__ only beside its app.py source"}},
		// sys.path: task root, then /opt/python/lib/python3.12/site-packages, then /opt/python.
		{name: "site-packages in a layer", files: tree("/opt/python/lib/python3.12/site-packages/sp.py"), handler: "sp.run", ver: "3.12", found: "/opt/python/lib/python3.12/site-packages/sp.py"},
		{name: "/opt/python", files: tree("/opt/python/lh.py"), handler: "lh.run", ver: "3.12", found: "/opt/python/lh.py"},
		{name: "another version's site-packages", files: tree("/opt/python/lib/python3.12/site-packages/sp.py"), handler: "sp.run", ver: "3.13",
			lerr: ErrImportModule, msg: []string{"/opt/python/lib/python3.13/site-packages/sp.py", "found /opt/python/lib/python3.12/site-packages/sp.py: not on the runtime's sys.path"}},
		// The task root comes first: its module shadows a layer's.
		{name: "task root first", files: tree("/var/task/app.py", "/opt/python/app.py"), handler: "app.handler", ver: "3.12", found: "/var/task/app.py"},
		// The runtime's own site-packages (pip install in a Dockerfile).
		{name: "runtime site-packages", files: tree("/var/lang/lib/python3.12/site-packages/fn.py"), handler: "fn.handler", ver: "3.12", found: "/var/lang/lib/python3.12/site-packages/fn.py"},
		// A regular package's submodules are searched only in its own
		// directory: a/ in the task root hides a/b.py in /opt/python.
		{name: "regular package hides a layer's submodule", files: tree("/var/task/a/__init__.py", "/opt/python/a/b.py"), handler: "a.b.handler", ver: "3.12",
			lerr: ErrImportModule, msg: []string{`No module named "a.b"`}},
		// Namespace portions span sys.path entries.
		{name: "namespace across entries", files: tree("/var/task/a/x.py", "/opt/python/a/b.py"), handler: "a.b.handler", ver: "3.12", found: "/opt/python/a/b.py"},
		{name: "module is not a package", files: tree("/var/task/a.py", "/var/task/a/b.py"), handler: "a.b.handler", ver: "3.12",
			lerr: ErrImportModule, msg: []string{"is not a package"}},
		// A namespace package imports, but has no attributes.
		{name: "namespace package as the handler module", files: tree("/var/task/svc/x.txt"), handler: "svc.handler", ver: "3.12", lerr: ErrHandlerNotFound},
		// Issue: a project directory the handler does not name.
		{name: "module in a project directory", files: tree("/var/task/myproj/app.py"), handler: "app.handler", ver: "3.12",
			lerr: ErrImportModule, msg: []string{`found /var/task/myproj/app.py: not importable under that name; the handler "myproj/app.handler" would load it`, "/var/task/app.py (or app/__init__.py, .pyc, .so)"}},
		// lambda.md: PYTHONPATH in the image replaces the /opt paths.
		{name: "PYTHONPATH hides /opt/python", files: tree("/opt/python/lh.py"), handler: "lh.run", ver: "3.12", env: map[string]string{"PYTHONPATH": "/srv"}, lerr: ErrImportModule},
		{name: "no dot", files: tree("/var/task/app.py"), handler: "app", lerr: ErrMalformedHandler},
	})
}

func TestResolveJava(t *testing.T) {
	runResolver(t, Java, []resolverCase{
		// CustomerClassLoader: the task root is a class directory.
		{name: "class file tree", files: tree("/var/task/example/Handler.class"), handler: "example.Handler::handleRequest", found: "/var/task/example/Handler.class"},
		// The method is optional (RequestHandler implementations).
		{name: "class without method", files: tree("/var/task/example/Handler.class"), handler: "example.Handler", found: "/var/task/example/Handler.class"},
		// Jars directly in <task root>/lib and /opt/java/lib.
		{name: "class in a task root jar", files: tree("/var/task/lib/fn.jar:example/Handler"), handler: "example.Handler::handleRequest", found: "/var/task/lib/fn.jar"},
		{name: "class in a layer jar", files: tree("/var/task/x.txt", "/opt/java/lib/fn.jar:example/Handler,example/Util"), handler: "example.Handler::handleRequest", found: "/opt/java/lib/fn.jar"},
		{name: "nested class", files: tree("/var/task/lib/fn.jar:example/Outer$Inner"), handler: "example.Outer$Inner::handle", found: "/var/task/lib/fn.jar"},
		// Another package: ClassNotFoundException, with the class found.
		{name: "class in another package", files: tree("/var/task/lib/fn.jar:other/Handler"), handler: "example.Handler::handleRequest",
			lerr: ErrClassNotFound, msg: []string{"Class not found: example.Handler", "found class other.Handler in /var/task/lib/fn.jar"}},
		// Only jars directly in lib/ are on the class path.
		{name: "jar in a subdirectory of lib", files: tree("/var/task/lib/sub/fn.jar:example/Handler"), handler: "example.Handler",
			lerr: ErrClassNotFound, msg: []string{"found /var/task/lib/sub/fn.jar: the runtime puts on the class path only jars directly in /var/task/lib and /opt/java/lib"}},
		{name: "jar in the task root", files: tree("/var/task/fn.jar:example/Handler"), handler: "example.Handler", lerr: ErrClassNotFound},
		// A class tree under a subdirectory is not at its package path.
		{name: "class tree one level down", files: tree("/var/task/classes/example/Handler.class"), handler: "example.Handler",
			lerr: ErrClassNotFound, msg: []string{"found /var/task/classes/example/Handler.class"}},
		// A jar whose classes were not recorded cannot rule the class out.
		{name: "jar too large to read", files: memFS{"/var/task/lib/big.jar": {Type: Regular, Mode: 0o644, Facts: TooLargeFacts("/var/task/lib/big.jar", 100<<20)}},
			handler: "example.Handler", warn: "not read"},
		{name: "no class anywhere", files: tree("/var/task/x.txt"), handler: "example.Handler::handleRequest", lerr: ErrClassNotFound},
		{name: "empty method", files: tree("/var/task/example/Handler.class"), handler: "example.Handler::", msg: []string{"invalid handler"}},
	})
}

func TestResolveDotnet(t *testing.T) {
	lib := []string{"/var/task/MyFn.dll", "/var/task/MyFn.deps.json", "/var/task/MyFn.runtimeconfig.json"}
	runResolver(t, DotNet, []resolverCase{
		{name: "class library", files: tree(lib...), handler: "MyFn::MyFn.Function::Handler", found: "/var/task/MyFn.dll"},
		// UserCodeLoader: the assembly must be in the task root.
		{name: "assembly missing", files: tree("/var/task/Other.dll", "/opt/MyFn.dll"), handler: "MyFn::MyFn.Function::Handler",
			lerr: ErrDotnetValidation, msg: []string{"/var/task/MyFn.dll", "found /opt/MyFn.dll"}},
		// HandlerInfo: exactly three parts.
		{name: "two parts", files: tree(lib...), handler: "MyFn::Handler", lerr: ErrDotnetValidation},
		// bootstrap.sh: no ":" is an executable assembly or binary.
		{name: "executable assembly", files: tree("/var/task/MyApp.dll"), handler: "MyApp", found: "/var/task/MyApp.dll"},
		{name: "native executable", files: tree("/var/task/bootstrap"), handler: "bootstrap", found: "/var/task/bootstrap"},
		{name: "executable missing", files: tree("/var/task/x.dll"), handler: "MyApp", lerr: ErrExit},
		// Exits 105/106 without deps.json/runtimeconfig.json: reported as
		// a warning (bootstrap script not confirmed on the base).
		{name: "no deps.json", files: tree("/var/task/MyFn.dll"), handler: "MyFn::MyFn.Function::Handler", found: "/var/task/MyFn.dll", warn: "MyFn.deps.json"},
	})
}

func TestResolveRuby(t *testing.T) {
	runResolver(t, Ruby, []resolverCase{
		{name: "file.method", files: tree("/var/task/lambda_function.rb"), handler: "lambda_function.lambda_handler", found: "/var/task/lambda_function.rb"},
		{name: "file.Class.method", files: tree("/var/task/function.rb"), handler: "function.Handler.process", found: "/var/task/function.rb"},
		{name: "file.Module::Class.method", files: tree("/var/task/function.rb"), handler: "function.App::Handler.process", found: "/var/task/function.rb"},
		{name: "directory path", files: tree("/var/task/app/fn.rb"), handler: "app/fn.handler", found: "/var/task/app/fn.rb"},
		// RUBYLIB: /opt/ruby/lib.
		{name: "layer ruby/lib", files: tree("/opt/ruby/lib/shared.rb"), handler: "shared.handler", found: "/opt/ruby/lib/shared.rb"},
		{name: "missing", files: tree("/var/task/src/function.rb"), handler: "function.handler",
			lerr: ErrRubyLoad, msg: []string{"cannot load such file -- function", "/var/task/function.rb", `the handler "src/function.handler" would load it`}},
		// LambdaHandler: 2 or 3 parts only.
		{name: "four parts", files: tree("/var/task/a.rb"), handler: "a.B.c.d", lerr: ErrRubyArgument},
	})
}

func TestResolveProvided(t *testing.T) {
	exe := func(p string) File { return File{Type: Regular, Mode: 0o755} }
	runResolver(t, Provided, []resolverCase{
		{name: "runtime bootstrap", files: memFS{RuntimeBootstrap: exe(RuntimeBootstrap)}, handler: "x", found: RuntimeBootstrap},
		// build links /var/runtime/bootstrap to the zip's bootstrap.
		{name: "link to the task root", files: memFS{RuntimeBootstrap: {Type: Symlink, Link: "/var/task/bootstrap"}, "/var/task/bootstrap": exe("")}, handler: "x", found: "/var/task/bootstrap"},
		{name: "dangling link", files: memFS{RuntimeBootstrap: {Type: Symlink, Link: "/var/task/bootstrap"}}, handler: "x", lerr: ErrInvalidEntrypoint, msg: []string{"does not lead to a file"}},
		{name: "only in the task root", files: memFS{"/var/task/bootstrap": exe("")}, handler: "x", lerr: ErrInvalidEntrypoint,
			msg: []string{"found /var/task/bootstrap: the image's entrypoint runs /var/runtime/bootstrap only"}},
		{name: "not executable", files: memFS{RuntimeBootstrap: {Type: Regular, Mode: 0o644}}, handler: "x", lerr: ErrInvalidEntrypoint},
	})
}

func TestReadFacts(t *testing.T) {
	f := ReadFacts("opt/java/lib/a.jar", jarBytes("b/C", "b/C$D"))
	assert.Equal(t, []string{"b/C", "b/C$D"}, f.Classes)
	assert.NotEmpty(t, ReadFacts("var/task/lib/a.jar", []byte("PK")).Unread)
	pj := ReadFacts("x/package.json", []byte(`{"main": 3, "type": "module", "exports": null}`))
	assert.Equal(t, &PackageJSON{Type: "module"}, pj.Package, "a main that is not a string is ignored, as Node.js does")
	assert.NotEmpty(t, ReadFacts("x/package.json", []byte(`{`)).Unread)
	for p, want := range map[string]bool{
		"var/task/lib/a.jar": true, "/opt/java/lib/a.jar": true, "opt/java/lib/sub/a.jar": false,
		"var/task/a.jar": false, "var/task/lib/.jar": false, "any/where/package.json": true, "opt/x.json": false,
		"opt/python/__pycache__/m.cpython-312.pyc": true, "var/task/legacy.pyc": true, "opt/python/m.py": false,
	} {
		assert.Equal(t, want, WantsFacts(p), p)
	}
	// A .pyc's facts are its header alone: a file of any size, its first
	// 16 bytes kept as they are; one shorter than a header has none.
	head := "\xcb\r\r\n\x00\x00\x00\x00\x00\xe1\xf5\x05\x0a\x00\x00\x00"
	assert.True(t, FactsFromHead("x/__pycache__/m.cpython-312.pyc"))
	assert.False(t, FactsFromHead("x/package.json"))
	assert.EqualValues(t, PycHeaderLen, FactsLimit("x/m.pyc"))
	assert.Equal(t, []byte(head), ReadFacts("x/m.pyc", []byte(head+"code")).Pyc)
	assert.Nil(t, ReadFacts("x/m.pyc", []byte(head[:15])))
}
