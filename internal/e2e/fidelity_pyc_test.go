package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/checks"
)

// Issue 17: the .pyc files Debian compiled for numpy are valid in a layer
// zip made with the zip command; in the image they must still be, or
// Python compiles numpy again at every cold start (and cannot cache it: the
// file system is read-only). The handler runs a fresh interpreter with
// `python -v` over the runtime's sys.path and reports what the importer
// said of every numpy module, and times the numpy import (in the runtime
// process at init, and in fresh interpreters without -v).

// bytecodeApp imports numpy at init, as a function would, and timing it is
// the cold-start cost; the handler then asks fresh interpreters.
const bytecodeApp = probePy + `
import os, subprocess, sys, time
_t0 = time.perf_counter()
import numpy
INIT_IMPORT = time.perf_counter() - _t0

def handler(event, context):
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in sys.path if p))
    out = {"init_import": INIT_IMPORT, "fresh_imports": [], "probe": probe()}
    if event.get("verbose"):
        r = subprocess.run([sys.executable, "-v", "-c", "import numpy"], env=env, capture_output=True, text=True)
        out["verbose_rc"] = r.returncode
        out["verbose"] = [l for l in r.stderr.splitlines() if l.startswith(("# code object from", "# bytecode is stale for"))]
    for _ in range(event.get("fresh", 0)):
        t = subprocess.run([sys.executable, "-c", "import time; t = time.perf_counter(); import numpy; print(time.perf_counter() - t)"],
                           env=env, capture_output=True, text=True, check=True)
        out["fresh_imports"].append(float(t.stdout))
    return out
`

// numpyZipWithBytecode makes the layer zip as a user would: Debian's numpy
// with its __pycache__ (tests left out) and the shared libraries it needs
// copied with their times (cp -p), then `zip -r`, which records each
// file's mtime in an extended-timestamp field.
func (f *pyFidelity) numpyZipWithBytecode(t *testing.T) string {
	t.Helper()
	testRequireTool(t, "zip")
	stage := t.TempDir()
	pkg := filepath.Join(DebianDistPackages, "numpy")
	files, err := TreeFiles(pkg, path.Join(f.sitePk, "numpy"), []string{"tests"}, nil)
	require.NoError(t, err)
	meta, _ := filepath.Glob(filepath.Join(DebianDistPackages, "numpy-*-info"))
	for _, m := range meta {
		mf, err := TreeFiles(m, path.Join(f.sitePk, filepath.Base(m)), nil, nil)
		require.NoError(t, err)
		files = append(files, mf...)
	}
	var elfs []string
	pycs := 0
	for _, rf := range files {
		if strings.HasSuffix(rf.Path, ".so") {
			elfs = append(elfs, rf.Host)
		}
		if strings.HasSuffix(rf.Path, ".pyc") {
			pycs++
		}
	}
	require.Positive(t, pycs, "Debian's python3-numpy installs compiled .pyc files (py3compile)")
	libs, err := SharedLibraries(f.libs, elfs...)
	require.NoError(t, err)
	for _, l := range libs {
		files = append(files, RuntimeFile{Path: "lib/" + path.Base(l.Path), Host: l.Host, Mode: 0o755})
	}
	for _, rf := range files {
		dst := filepath.Join(stage, filepath.FromSlash(rf.Path))
		require.NoError(t, os.MkdirAll(filepath.Dir(dst), 0o755))
		b, err := os.ReadFile(rf.Host)
		require.NoError(t, err)
		require.NoError(t, os.WriteFile(dst, b, os.FileMode(rf.Mode)))
		fi, err := os.Stat(rf.Host)
		require.NoError(t, err)
		require.NoError(t, os.Chtimes(dst, fi.ModTime(), fi.ModTime()))
	}
	zipPath := filepath.Join(t.TempDir(), "numpy-layer.zip")
	cmd := exec.Command("zip", "-q", "-r", zipPath, "python", "lib")
	cmd.Dir = stage
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "zip: %s", out)
	t.Logf("numpy layer zip: %d files, %d .pyc", len(files), pycs)
	return zipPath
}

// bytecodeReport is what bytecodeApp answers.
type bytecodeReport struct {
	VerboseRC    int            `json:"verbose_rc"`
	Verbose      []string       `json:"verbose"`
	InitImport   float64        `json:"init_import"`
	FreshImports []float64      `json:"fresh_imports"`
	Probe        map[string]any `json:"probe"`
}

// numpyImports sorts python -v's lines about modules under /opt: loaded
// from their .pyc ("code object from '/opt/...pyc'"), compiled from source
// ("code object from /opt/...py"), and found stale.
func (r bytecodeReport) numpyImports() (fromPyc, fromSource, stale []string) {
	for _, l := range r.Verbose {
		switch {
		case strings.HasPrefix(l, "# code object from '/opt/") && strings.HasSuffix(l, ".pyc'"):
			fromPyc = append(fromPyc, l)
		case strings.HasPrefix(l, "# code object from /opt/"):
			fromSource = append(fromSource, l)
		case strings.HasPrefix(l, "# bytecode is stale for 'numpy"):
			stale = append(stale, l)
		}
	}
	return
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// Scenario 1b: numpy's modules load from the .pyc files shipped in the
// layer. The control is the same zip converted without the .pyc rewrite
// (build.Spec.NoPycRewrite, through the library: the CLI has no switch for
// it): there every numpy module is stale and compiled from source, which
// shows the check can fail, and the build's stale-bytecode warning names
// numpy. Both images run in the same test, one after the other, so their
// import times compare.
func (f *pyFidelity) testBytecode(t *testing.T) {
	zipPath := f.numpyZipWithBytecode(t)
	code := filepath.Join(t.TempDir(), "code.zip")
	require.NoError(t, WriteZip(code, []ZipEntry{{Name: "app.py", Mode: 0o644, Body: bytecodeApp}}))
	runtimeID := "python" + f.py.Version

	// With the rewrite: lambda-oci build as a user runs it.
	repo := "fn/py-numpy-pyc"
	args := []string{"build", "--base", f.base, "--arch", f.w.arch, "--cache-dir", f.w.cacheDir,
		"--layer", zipPath, "--code", code, "--handler", "app.handler", "--runtime", runtimeID, "--tag", f.w.reg.Host + "/" + repo + ":1"}
	stdout, stderr, err := f.w.lambdaOCI(t.Context(), args...)
	t.Logf("lambda-oci %s\nstderr:\n%s", strings.Join(args, " "), stderr)
	require.NoError(t, err, stderr)
	rewritten := strings.TrimSpace(stdout)
	assert.NotContains(t, stderr, checks.RuleStaleBytecode, "valid .pyc files stay valid: no stale-bytecode warning")

	// Without it: the library, with the same inputs.
	baseRef, err := name.ParseReference(f.base)
	require.NoError(t, err)
	base, err := remote.Image(baseRef, append(f.w.remoteOpts, remote.WithContext(t.Context()),
		remote.WithPlatform(v1.Platform{OS: "linux", Architecture: runtime.GOARCH}))...)
	require.NoError(t, err)
	res, err := build.Build(t.Context(), build.Spec{
		Runtime: runtimeID, Base: f.base, BaseImage: base, Arch: f.w.arch,
		Layers: []build.Source{{Path: zipPath}}, Code: build.Source{Path: code}, Handler: "app.handler",
		NoPycRewrite: true,
	}, build.Options{CacheDir: t.TempDir()})
	require.NoError(t, err)
	defer res.Close()
	var warned []checks.Finding
	for _, fd := range res.Findings {
		if fd.Rule == checks.RuleStaleBytecode {
			warned = append(warned, fd)
		}
	}
	require.Len(t, warned, 1, "the control's stale .pyc files are reported: %v", res.Findings)
	assert.Contains(t, warned[0].Message, "/opt/"+f.sitePk+"/numpy (")
	t.Logf("control's warning: %s", warned[0].Message)
	stale := f.w.pushImage(t, "fn/py-numpy-pyc-stale", res.Image)

	// Both functions run side by side; invokes alternate between them, so
	// that the load of the machine falls on both alike.
	start := func(ref string) *Function {
		_, err := f.w.podman.Pull(t.Context(), ref)
		require.NoError(t, err)
		fn, err := f.w.podman.RunFunction(t.Context(), t, ref, "app.handler")
		require.NoError(t, err)
		return fn
	}
	fnOn, fnOff := start(rewritten), start(stale)
	invoke := func(t *testing.T, fn *Function, payload string) bytecodeReport {
		status, body, err := fn.Invoke(t.Context(), payload)
		require.NoError(t, err)
		require.Equal(t, 200, status, string(body))
		var r bytecodeReport
		require.NoError(t, json.Unmarshal(body, &r), string(body))
		assertLambdaUser(t, r.Probe)
		return r
	}
	var on, off bytecodeReport
	t.Run("rewritten: numpy loads from its .pyc", func(t *testing.T) {
		on = invoke(t, fnOn, `{"verbose": true}`)
		require.Zero(t, on.VerboseRC, "python -v -c 'import numpy' in the container")
		fromPyc, fromSource, staleLines := on.numpyImports()
		t.Logf("python -v: %d numpy modules from their .pyc, %d compiled from source, %d stale", len(fromPyc), len(fromSource), len(staleLines))
		assert.Greater(t, len(fromPyc), 50, "numpy's modules come from the cache")
		assert.Empty(t, staleLines, "no numpy module has stale bytecode")
		assert.Empty(t, fromSource, "no module under /opt is compiled from source")
	})
	t.Run("control without the rewrite: every numpy module is compiled again", func(t *testing.T) {
		off = invoke(t, fnOff, `{"verbose": true}`)
		require.Zero(t, off.VerboseRC, "python -v -c 'import numpy' in the container")
		fromPyc, fromSource, staleLines := off.numpyImports()
		t.Logf("python -v: %d numpy modules from their .pyc, %d compiled from source, %d stale", len(fromPyc), len(fromSource), len(staleLines))
		assert.Empty(t, fromPyc, "no .pyc under /opt is used")
		assert.NotEmpty(t, staleLines)
		assert.Equal(t, len(staleLines), len(fromSource), "each stale module is compiled from its source")
		onPyc, _, _ := on.numpyImports()
		assert.Equal(t, len(onPyc), len(fromSource), "the same modules, from source this time")
	})
	if t.Failed() {
		return
	}
	// Measured, never asserted. Fresh interpreters in the two containers,
	// alternating; then cold starts: a new container per sample, the numpy
	// import timed in the runtime process at init, the order of the two
	// alternating from round to round.
	var freshOn, freshOff, initOn, initOff []float64
	for range 4 {
		freshOn = append(freshOn, invoke(t, fnOn, `{"fresh": 3}`).FreshImports...)
		freshOff = append(freshOff, invoke(t, fnOff, `{"fresh": 3}`).FreshImports...)
	}
	initOn, initOff = append(initOn, on.InitImport), append(initOff, off.InitImport)
	cold := func(ref string, into *[]float64) {
		fn := start(ref)
		*into = append(*into, invoke(t, fn, `{}`).InitImport)
		_, err := f.w.podman.Exec(t.Context(), "rm", "-f", "-t", "0", fn.ID)
		require.NoError(t, err)
	}
	for round := range 2 {
		if round%2 == 0 {
			cold(stale, &initOff)
			cold(rewritten, &initOn)
		} else {
			cold(rewritten, &initOn)
			cold(stale, &initOff)
		}
	}
	ms := func(xs []float64) string {
		out := make([]string, len(xs))
		for i, x := range xs {
			out[i] = time.Duration(x * float64(time.Second)).Round(time.Millisecond).String()
		}
		return strings.Join(out, " ")
	}
	one := func(x float64) string { return ms([]float64{x}) }
	t.Logf("numpy import, rewritten vs without the rewrite: cold start at init, median of %d: %s vs %s (%s | %s); fresh interpreters, median of %d: %s vs %s, min %s vs %s",
		len(initOn), one(median(initOn)), one(median(initOff)), ms(initOn), ms(initOff),
		len(freshOn), one(median(freshOn)), one(median(freshOff)), one(slices.Min(freshOn)), one(slices.Min(freshOff)))
}
