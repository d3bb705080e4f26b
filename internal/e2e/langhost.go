package e2e

import (
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"
)

// The fidelity bases and layers are assembled from what is installed on
// the host (scripts/install-test-deps.sh puts it there): Debian's python3
// and python3-numpy, Node.js, and npm packages in a cache directory. Tests
// need no network.

// DebianPython is Debian's interpreter (not a pyenv or venv shim: its
// standard library and dist-packages are the files the layers are made of).
const DebianPython = "/usr/bin/python3"

// DebianDistPackages is where Debian's python3-* packages install.
const DebianDistPackages = "/usr/lib/python3/dist-packages"

// NPMCacheDir is where install-test-deps.sh installs the npm packages the
// Node.js layers are made of (LAMBDA_OCI_E2E_NPM overrides it, for both).
func NPMCacheDir() string {
	if d := os.Getenv("LAMBDA_OCI_E2E_NPM"); d != "" {
		return d
	}
	return "/var/cache/lambda-oci-e2e/npm"
}

// HostPython describes the host's Debian Python.
type HostPython struct {
	Bin     string // the real interpreter file, e.g. /usr/bin/python3.11
	Version string // "3.11"
	Stdlib  string // e.g. /usr/lib/python3.11
}

// FindHostPython asks the interpreter where it lives.
func FindHostPython(bin string) (HostPython, error) {
	out, err := exec.Command(bin, "-I", "-c",
		`import sys, sysconfig; print("%d.%d" % sys.version_info[:2]); print(sysconfig.get_path("stdlib")); print(sys.executable)`).Output()
	if err != nil {
		return HostPython{}, fmt.Errorf("%s: %w", bin, err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != 3 {
		return HostPython{}, fmt.Errorf("%s: unexpected answer %q", bin, out)
	}
	real, err := filepath.EvalSymlinks(lines[2])
	if err != nil {
		return HostPython{}, fmt.Errorf("%s: %w", bin, err)
	}
	return HostPython{Bin: real, Version: lines[0], Stdlib: lines[1]}, nil
}

// stdlibSkip are standard-library folders no function needs: tests, IDLE,
// Tk, the build configuration (config-X.Y-*), bundled installers.
var stdlibSkip = []string{"__pycache__", "test", "tests", "idlelib", "tkinter", "turtledemo",
	"ensurepip", "lib2to3", "pydoc_data", "dist-packages", "site-packages", "venv"}

// PythonBaseFiles lays the host's Python out as the AWS Python bases do:
// the interpreter at /var/lang/bin/python3.X (python3 links to it), the
// standard library at /var/lang/lib/python3.X (the interpreter finds it
// from its own location), the shared libraries where ldd found them, and
// the runtime loop in /var/runtime. No .pyc files: their recorded mtimes
// would not match the image's, so Python would ignore them anyway.
func PythonBaseFiles(py HostPython) (files []RuntimeFile, libs map[string]bool, err error) {
	ver := "python" + py.Version
	skip := append([]string(nil), stdlibSkip...)
	ents, err := os.ReadDir(py.Stdlib)
	if err != nil {
		return nil, nil, fmt.Errorf("python base: %w", err)
	}
	for _, e := range ents {
		if e.IsDir() && strings.HasPrefix(e.Name(), "config-") {
			skip = append(skip, e.Name())
		}
	}
	stdlib, err := TreeFiles(py.Stdlib, "var/lang/lib/"+ver, skip, func(rel string) bool {
		return !strings.HasSuffix(rel, ".pyc")
	})
	if err != nil {
		return nil, nil, fmt.Errorf("python base: %w", err)
	}
	elfs := []string{py.Bin}
	for _, f := range stdlib {
		if strings.HasSuffix(f.Path, ".so") {
			elfs = append(elfs, f.Host)
		}
	}
	shared, err := SharedLibraries(nil, elfs...)
	if err != nil {
		return nil, nil, fmt.Errorf("python base: %w", err)
	}
	shared = withSystemLibraries(shared)
	libs = map[string]bool{}
	for _, l := range shared {
		libs["/"+l.Path] = true
	}
	files = append(files,
		RuntimeFile{Path: "var/lang/bin/" + ver, Host: py.Bin, Mode: 0o755},
		RuntimeFile{Path: "var/lang/bin/python3", Link: ver},
		RuntimeFile{Path: "var/runtime/lambda_runtime.py", Body: []byte(pythonRuntime)},
	)
	files = append(files, shared...)
	files = append(files, stdlib...)
	return files, libs, nil
}

// systemLibraries are the C and C++ runtime libraries every AWS base image
// carries whole (glibc's libraries, libstdc++, libgcc_s), whether or not the
// interpreter itself links them: native code in layers counts on them (sharp's
// libvips needs libresolv, which node does not).
var systemLibraries = []string{"libc.so.6", "libm.so.6", "libmvec.so.1", "libdl.so.2", "libpthread.so.0",
	"librt.so.1", "libresolv.so.2", "libutil.so.1", "libanl.so.1", "libnss_dns.so.2", "libnss_files.so.2",
	"libBrokenLocale.so.1", "libstdc++.so.6", "libgcc_s.so.1"}

// withSystemLibraries adds systemLibraries found in the directory ldd
// resolved libc.so.6 to.
func withSystemLibraries(shared []RuntimeFile) []RuntimeFile {
	have := map[string]bool{}
	libDir := ""
	for _, l := range shared {
		have[l.Path] = true
		if path.Base(l.Path) == "libc.so.6" {
			libDir = path.Dir(l.Path)
		}
	}
	if libDir == "" {
		return shared
	}
	for _, name := range systemLibraries {
		p := path.Join(libDir, name)
		if have[p] {
			continue
		}
		real, err := filepath.EvalSymlinks("/" + p)
		if err != nil {
			continue // not part of this C library's build
		}
		shared = append(shared, RuntimeFile{Path: p, Host: real, Mode: 0o755})
	}
	return shared
}

// HostNode describes the host's Node.js.
type HostNode struct {
	Bin   string // the real node binary
	Major string // "20"
}

// FindHostNode finds node on PATH and its major version.
func FindHostNode() (HostNode, error) {
	bin, err := exec.LookPath("node")
	if err != nil {
		return HostNode{}, err
	}
	real, err := filepath.EvalSymlinks(bin)
	if err != nil {
		return HostNode{}, fmt.Errorf("node: %w", err)
	}
	out, err := exec.Command(real, "-p", "process.versions.node.split('.')[0]").Output()
	if err != nil {
		return HostNode{}, fmt.Errorf("%s: %w", real, err)
	}
	return HostNode{Bin: real, Major: strings.TrimSpace(string(out))}, nil
}

// NodeBaseFiles lays Node.js out as the AWS Node.js bases do: node at
// /var/lang/bin/node, its shared libraries where ldd found them, the
// runtime loop in /var/runtime.
func NodeBaseFiles(node HostNode) ([]RuntimeFile, error) {
	shared, err := SharedLibraries(nil, node.Bin)
	if err != nil {
		return nil, fmt.Errorf("node base: %w", err)
	}
	shared = withSystemLibraries(shared)
	files := []RuntimeFile{
		{Path: "var/lang/bin/node", Host: node.Bin, Mode: 0o755},
		{Path: "var/runtime/lambda-runtime.cjs", Body: []byte(nodeRuntime)},
	}
	return append(files, shared...), nil
}

// NumpyLayer is a layer zip of Debian's numpy as a user would make it:
// the package (and its metadata) under prefix — python/lib/python3.X/
// site-packages/ for the layout Lambda reads, "" for the classic mistake —
// and the shared libraries numpy needs beyond the base's (BLAS, LAPACK,
// gfortran) under lib/, which Lambda puts on LD_LIBRARY_PATH as /opt/lib.
func NumpyLayer(distPackages, prefix string, baseLibs map[string]bool) ([]ZipEntry, error) {
	pkg := filepath.Join(distPackages, "numpy")
	files, err := TreeFiles(pkg, path.Join(prefix, "numpy"), []string{"__pycache__", "tests"}, func(rel string) bool {
		return !strings.HasSuffix(rel, ".pyc")
	})
	if err != nil {
		return nil, fmt.Errorf("numpy layer: %w", err)
	}
	meta, _ := filepath.Glob(filepath.Join(distPackages, "numpy-*-info"))
	for _, m := range meta {
		mf, err := TreeFiles(m, path.Join(prefix, filepath.Base(m)), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("numpy layer: %w", err)
		}
		files = append(files, mf...)
	}
	var elfs []string
	for _, f := range files {
		if strings.HasSuffix(f.Path, ".so") {
			elfs = append(elfs, f.Host)
		}
	}
	if len(elfs) == 0 {
		return nil, fmt.Errorf("numpy layer: no extension modules under %s", pkg)
	}
	libs, err := SharedLibraries(baseLibs, elfs...)
	if err != nil {
		return nil, fmt.Errorf("numpy layer: %w", err)
	}
	for _, l := range libs {
		files = append(files, RuntimeFile{Path: "lib/" + path.Base(l.Path), Host: l.Host, Mode: 0o755})
	}
	return ZipTree(files)
}

// NPMLayer is a layer zip of an npm install (DIR/node_modules) under
// nodejs/node_modules/, as `npm install --prefix nodejs ...; zip -r` makes
// it (the .bin links left out).
func NPMLayer(dir string) ([]ZipEntry, error) {
	files, err := TreeFiles(filepath.Join(dir, "node_modules"), "nodejs/node_modules", []string{".bin"}, nil)
	if err != nil {
		return nil, fmt.Errorf("npm layer: %w", err)
	}
	if len(files) == 0 {
		return nil, fmt.Errorf("npm layer: nothing in %s/node_modules", dir)
	}
	return ZipTree(files)
}

// ZipTree turns runtime files into zip entries, with an entry for every
// directory first (as zip -r writes them).
func ZipTree(files []RuntimeFile) ([]ZipEntry, error) {
	dirs := map[string]bool{}
	var out []ZipEntry
	for _, f := range files {
		for d := path.Dir(f.Path); d != "."; d = path.Dir(d) {
			if !dirs[d] {
				dirs[d] = true
				out = append(out, ZipEntry{Name: d + "/", Mode: fs.ModeDir | 0o755})
			}
		}
		body := string(f.Body)
		if f.Host != "" {
			b, err := os.ReadFile(f.Host)
			if err != nil {
				return nil, err
			}
			body = string(b)
		}
		mode := fs.FileMode(f.Mode)
		if mode == 0 {
			mode = 0o644
		}
		out = append(out, ZipEntry{Name: f.Path, Mode: mode, Body: body})
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}
