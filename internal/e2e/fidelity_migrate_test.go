package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
)

const (
	migNumpyLayer = "arn:aws:lambda:us-east-1:123456789012:layer:numpy:4"
	migStatsLayer = "arn:aws:lambda:us-east-1:123456789012:layer:stats-helpers:2"
)

// statsHelpers is the second layer's module: the function's own shared
// code, published as a layer.
const statsHelpers = `import numpy as np

def describe(values):
    x = np.arange(len(values), dtype=float)
    slope, intercept = np.polyfit(x, values, 1)
    return {
        "n": int(values.size),
        "mean": float(values.mean()),
        "std": float(values.std()),
        "median": float(np.median(values)),
        "slope": float(slope),
        "intercept": float(intercept),
        "fft_abs": [float(v) for v in np.abs(np.fft.rfft(values))],
    }
`

const migratedApp = probePy + `
import numpy as np
from stats_helpers import describe

def handler(event, context):
    return {"result": describe(np.array(event["values"], dtype=float)), "probe": probe()}
`

// Scenario 4: a deployed python zip function (stand-in Lambda API: the
// function and two layer versions, numpy and the team's helpers) is
// migrated by lambda-oci onto the Python base; invoked through the
// emulator it answers exactly what its handler answers when run directly
// by the host's Python over the same zips, laid out as Lambda lays them.
func (f *pyFidelity) testMigrate(t *testing.T) {
	w := f.w
	runtimeID := "python" + f.py.Version
	helpers := []ZipEntry{
		{Name: "python/", Mode: os.ModeDir | 0o755},
		{Name: "python/stats_helpers.py", Mode: 0o644, Body: statsHelpers},
	}
	code := []ZipEntry{{Name: "app.py", Mode: 0o644, Body: migratedApp}}
	fake := fakelambda.New(t, fakelambda.Options{})
	fake.AddLayer(fakelambda.Layer{ARN: migNumpyLayer, Zip: zipBytes(t, f.numpy),
		CompatibleRuntimes: []string{runtimeID}, CompatibleArchitectures: []string{w.arch}})
	fake.AddLayer(fakelambda.Layer{ARN: migStatsLayer, Zip: zipBytes(t, helpers), CompatibleRuntimes: []string{runtimeID}})
	fake.AddFunction(fakelambda.Function{
		Name:          "stats",
		Runtime:       runtimeID,
		Handler:       "app.handler",
		Role:          "arn:aws:iam::123456789012:role/stats",
		Architectures: []string{w.arch},
		Layers:        []string{migNumpyLayer, migStatsLayer},
		Code:          zipBytes(t, code),
	})

	repo := "fn/py-migrated"
	args := []string{"migrate", "--function", "stats", "--base", f.base,
		"--tag", w.reg.Host + "/" + repo + ":1", "--cache-dir", w.cacheDir}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.migrateEnv(t, fake)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("lambda-oci %s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	require.NoError(t, err, "lambda-oci migrate failed")
	ref := strings.TrimSpace(stdout.String())
	require.Regexp(t, `^`+regexpQuote(w.reg.Host+"/"+repo)+`@sha256:[0-9a-f]{64}$`, ref)
	assert.Equal(t, 2, fake.CallCount("GetLayerVersionByArn"))

	event := `{"values":[3,1,4,1,5,9,2,6,5,3,5]}`
	status, body := w.invoke(t, ref, "app.handler", event)
	require.Equal(t, 200, status, body)
	var got struct {
		Result map[string]any `json:"result"`
		Probe  map[string]any `json:"probe"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assertLambdaUser(t, got.Probe)

	direct := f.runDirectly(t, [][]ZipEntry{f.numpy, helpers}, code, "app.handler", event)
	require.Contains(t, direct, "result")
	assert.Equal(t, direct["result"], got.Result, "the image answers what the handler answers run directly")
	assert.EqualValues(t, 11, got.Result["n"], "and the answer is numpy's work, not an empty one")
}

// runDirectly runs handler with the host's Python over the zips' files, laid
// out as Lambda does (layers extracted in order into one opt directory, the
// code in a task directory) and searched in Lambda's order.
func (f *pyFidelity) runDirectly(t *testing.T, layers [][]ZipEntry, code []ZipEntry, handler, event string) map[string]any {
	t.Helper()
	dir := t.TempDir()
	opt, task := filepath.Join(dir, "opt"), filepath.Join(dir, "task")
	for _, l := range layers {
		writeEntries(t, opt, l)
	}
	writeEntries(t, task, code)
	mod, fn, _ := strings.Cut(handler, ".")
	script := `import importlib, json, sys
opt, task, mod, fn, ver = sys.argv[1:6]
sys.path[:0] = [task, opt + "/python/lib/python" + ver + "/site-packages", opt + "/python"]
answer = getattr(importlib.import_module(mod), fn)(json.loads(sys.stdin.read()), None)
print(json.dumps({"answer": answer, "numpy": getattr(sys.modules.get("numpy"), "__file__", None)}))
`
	cmd := exec.CommandContext(t.Context(), DebianPython, "-I", "-c", script, opt, task, mod, fn, f.py.Version)
	cmd.Env = append(os.Environ(), "LD_LIBRARY_PATH="+filepath.Join(opt, "lib"))
	cmd.Stdin = strings.NewReader(event)
	out, err := cmd.Output()
	var stderr string
	if ee, ok := err.(*exec.ExitError); ok {
		stderr = string(ee.Stderr)
	}
	require.NoError(t, err, "running the handler directly: %s", stderr)
	var res struct {
		Answer map[string]any
		Numpy  *string
	}
	require.NoError(t, json.Unmarshal(out, &res), "%s", out)
	t.Logf("run directly: %s", out)
	if res.Numpy != nil {
		assert.True(t, strings.HasPrefix(*res.Numpy, opt+"/"), "run directly, numpy comes from the layers' files, not the host's: %s", *res.Numpy)
	}
	return res.Answer
}

// writeEntries extracts zip entries (as generated, not zipped) under root.
func writeEntries(t *testing.T, root string, entries []ZipEntry) {
	t.Helper()
	for _, e := range entries {
		p := filepath.Join(root, filepath.FromSlash(strings.TrimSuffix(e.Name, "/")))
		if e.Mode.IsDir() || strings.HasSuffix(e.Name, "/") {
			require.NoError(t, os.MkdirAll(p, 0o755))
			continue
		}
		require.NoError(t, os.MkdirAll(filepath.Dir(p), 0o755))
		require.NoError(t, os.WriteFile(p, []byte(e.Body), e.Mode.Perm()|0o600))
	}
}
