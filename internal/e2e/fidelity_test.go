package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Lambda fidelity (issue 14): functions in real languages, with real
// packages from layers, built by lambda-oci on Lambda-like Python and
// Node.js bases and invoked through the emulator as Lambda's non-root user
// on a read-only root file system (Podman.RunFunction: --user 1000:1000,
// --read-only). Every handler reports its uid and what writing to the task
// root gives (EROFS: read-only, not merely not permitted), and the tests
// assert both.

// requireFile skips (locally) or fails (CI) when a file the scenarios are
// made of is missing, like testregistry.RequireTool does for tools.
func requireFile(t *testing.T, p, hint string) {
	t.Helper()
	if _, err := os.Stat(p); err != nil {
		if os.Getenv("LAMBDA_OCI_REQUIRE_TOOLS") == "1" {
			t.Fatalf("%s is required (LAMBDA_OCI_REQUIRE_TOOLS=1): %v; %s", p, err, hint)
		}
		t.Skipf("%s missing (%v); %s", p, err, hint)
	}
}

const installHint = "run scripts/install-test-deps.sh as root"

// pushBase builds a language base and pushes it as a one-platform index.
func (w *world) pushBase(t *testing.T, repo string, opts LanguageBaseOptions) string {
	t.Helper()
	opts.BusyboxPath, opts.RIEPath = lookPaths(t, "busybox", "aws-lambda-rie")
	start := time.Now()
	img, err := BuildLanguageBase(opts)
	require.NoError(t, err)
	ref := w.reg.Host + "/" + repo
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	_, err = PushIndex(t.Context(), r, img, w.remoteOpts...)
	require.NoError(t, err)
	t.Logf("base %s built and pushed in %v", ref, time.Since(start).Round(time.Millisecond))
	return ref
}

// pyFidelity is what the Python scenarios share.
type pyFidelity struct {
	w      *world
	py     HostPython
	base   string
	libs   map[string]bool // shared libraries in the base, by path
	numpy  []ZipEntry      // python/lib/python3.X/site-packages/numpy + lib/
	sitePk string          // python/lib/python3.X/site-packages
}

func (w *world) testFidelityPython(t *testing.T) {
	requireFile(t, DebianPython, installHint+" (python3)")
	requireFile(t, filepath.Join(DebianDistPackages, "numpy", "__init__.py"), installHint+" (python3-numpy)")
	testRequireTool(t, "ldd")
	py, err := FindHostPython(DebianPython)
	require.NoError(t, err)
	files, libs, err := PythonBaseFiles(py)
	require.NoError(t, err)
	f := &pyFidelity{w: w, py: py, libs: libs, sitePk: "python/lib/python" + py.Version + "/site-packages"}
	f.base = w.pushBase(t, "lambda/python:"+py.Version, LanguageBaseOptions{Files: files, Bootstrap: pythonBootstrap, What: "Debian python" + py.Version + " and the Python runtime loop"})
	f.numpy, err = NumpyLayer(DebianDistPackages, f.sitePk, libs)
	require.NoError(t, err)

	t.Run("numpy from a layer", f.testNumpy)
	t.Run("numpy loads from its bytecode", f.testBytecode)
	t.Run("second layer overrides a module of the first", f.testOverride)
	t.Run("migrated function answers as its handler run directly", f.testMigrate)
	t.Run("control: numpy layer without python/ warns and fails to import", f.testNoPrefix)
}

// probePy is the part of every Python handler that reports the user and
// what writing to the task root and /opt gives.
const probePy = `import errno, os

def probe():
    out = {"uid": os.getuid(), "gid": os.getgid()}
    for name, p in (("task_root", "/var/task/probe"), ("opt", "/opt/probe")):
        try:
            open(p, "w").close()
            out[name] = "written"
        except OSError as e:
            out[name] = errno.errorcode.get(e.errno, str(e.errno))
    return out
`

// assertLambdaUser checks the probe's answer: uid/gid 1000 and a root file
// system that refuses writes as read-only.
func assertLambdaUser(t *testing.T, probe map[string]any) {
	t.Helper()
	assert.EqualValues(t, 1000, probe["uid"], "the function runs as the non-root user")
	assert.EqualValues(t, 1000, probe["gid"])
	assert.Equal(t, "EROFS", probe["task_root"], "the task root is on a read-only file system")
	assert.Equal(t, "EROFS", probe["opt"], "/opt is on a read-only file system")
}

// numpyApp computes with numpy (LAPACK through /opt/lib) from the layer.
const numpyApp = probePy + `
import numpy as np

def handler(event, context):
    a = np.array(event["matrix"], dtype=float)
    return {
        "det": round(float(np.linalg.det(a)), 9),
        "solve": [round(float(x), 9) for x in np.linalg.solve(a, np.array(event["b"], dtype=float))],
        "numpy_file": np.__file__,
        "probe": probe(),
    }
`

// Scenario 1: the handler in the code zip imports numpy from a layer made
// of Debian's numpy, laid out as Lambda's docs say; the answer is computed
// by numpy's compiled code and LAPACK.
func (f *pyFidelity) testNumpy(t *testing.T) {
	ref := f.w.mustBuild(t, "fn/py-numpy", function{
		base:    f.base,
		layers:  [][]ZipEntry{f.numpy},
		code:    []ZipEntry{{Name: "app.py", Mode: 0o644, Body: numpyApp}},
		handler: "app.handler",
		extra:   []string{"--runtime", "python" + f.py.Version},
	})
	status, body := f.w.invoke(t, ref, "app.handler", `{"matrix":[[2,1],[1,3]],"b":[3,5]}`)
	require.Equal(t, 200, status, body)
	var got struct {
		Det       float64        `json:"det"`
		Solve     []float64      `json:"solve"`
		NumpyFile string         `json:"numpy_file"`
		Probe     map[string]any `json:"probe"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assert.InDelta(t, 5.0, got.Det, 1e-9)
	assert.InDeltaSlice(t, []float64{0.8, 1.4}, got.Solve, 1e-9)
	assert.Equal(t, "/opt/"+f.sitePk+"/numpy/__init__.py", got.NumpyFile, "numpy comes from the layer")
	assertLambdaUser(t, got.Probe)
}

// Scenario 3: two layers carry the same package; the second replaces one
// module of it, and Lambda (which extracts layers in order into /opt)
// shows the second's module and keeps the first's other files.
func (f *pyFidelity) testOverride(t *testing.T) {
	first := []ZipEntry{
		{Name: "python/", Mode: os.ModeDir | 0o755},
		{Name: "python/shared/", Mode: os.ModeDir | 0o755},
		{Name: "python/shared/__init__.py", Mode: 0o644, Body: ""},
		{Name: "python/shared/version.py", Mode: 0o644, Body: "WHO = 'first layer'\n"},
		{Name: "python/shared/helpers.py", Mode: 0o644, Body: "def helper():\n    return 'first layer helper'\n"},
	}
	second := []ZipEntry{
		{Name: "python/", Mode: os.ModeDir | 0o755},
		{Name: "python/shared/", Mode: os.ModeDir | 0o755},
		{Name: "python/shared/version.py", Mode: 0o644, Body: "WHO = 'second layer'\n"},
	}
	app := probePy + `
from shared import helpers, version

def handler(event, context):
    return {"version": version.WHO, "version_file": version.__file__, "helper": helpers.helper(), "probe": probe()}
`
	ref := f.w.mustBuild(t, "fn/py-override", function{
		base:    f.base,
		layers:  [][]ZipEntry{first, second},
		code:    []ZipEntry{{Name: "app.py", Mode: 0o644, Body: app}},
		handler: "app.handler",
		extra:   []string{"--runtime", "python" + f.py.Version},
	})
	status, body := f.w.invoke(t, ref, "app.handler", `{}`)
	require.Equal(t, 200, status, body)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assert.Equal(t, "second layer", got["version"], "the later layer's module wins")
	assert.Equal(t, "/opt/python/shared/version.py", got["version_file"])
	assert.Equal(t, "first layer helper", got["helper"], "the earlier layer's other modules stay")
	assertLambdaUser(t, got["probe"].(map[string]any))
}

// Scenario 5a: the same numpy zipped without python/lib/.../site-packages
// (numpy/ at the zip's top, so /opt/numpy in the image). The build
// succeeds with the layer-layout warning naming the package, and the
// invoke fails to import numpy, as in Lambda.
func (f *pyFidelity) testNoPrefix(t *testing.T) {
	bare, err := NumpyLayer(DebianDistPackages, "", f.libs)
	require.NoError(t, err)
	ref, stderr, err := f.w.build(t, "fn/py-numpy-bare", function{
		base:    f.base,
		layers:  [][]ZipEntry{bare},
		code:    []ZipEntry{{Name: "app.py", Mode: 0o644, Body: numpyApp}},
		handler: "app.handler",
		extra:   []string{"--runtime", "python" + f.py.Version},
	})
	require.NoError(t, err, "a layer-layout finding is a warning, not a refusal:\n%s", stderr)
	assert.Regexp(t, `warning: .*where the runtime does not look`, stderr, "the layer-layout rule warns")
	assert.Contains(t, stderr, "/opt/numpy (a Python package outside /opt/python", "the warning names the package Python will not find")
	status, body := f.w.invoke(t, ref, "app.handler", `{"matrix":[[2,1],[1,3]],"b":[3,5]}`)
	assert.Equal(t, 502, status, "the emulator reports an init error as 502")
	assert.Contains(t, body, "Runtime.ImportModuleError")
	assert.Contains(t, body, "Unable to import module 'app': No module named 'numpy'")
}

// testRequireTool is testregistry.RequireTool for a tool the fidelity
// scenarios need beyond the suite's.
func testRequireTool(t *testing.T, names ...string) {
	t.Helper()
	for _, n := range names {
		if _, err := exec.LookPath(n); err != nil {
			if os.Getenv("LAMBDA_OCI_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s is required (LAMBDA_OCI_REQUIRE_TOOLS=1) but not on PATH", n)
			}
			t.Skipf("%s not installed; %s", n, installHint)
		}
	}
}

// lookPaths finds the busybox and emulator binaries newWorld required.
func lookPaths(t *testing.T, busyboxName, rieName string) (string, string) {
	t.Helper()
	busybox, err := exec.LookPath(busyboxName)
	require.NoError(t, err)
	rie, err := exec.LookPath(rieName)
	require.NoError(t, err)
	return busybox, rie
}
