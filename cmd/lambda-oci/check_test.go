package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"context"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/registry"
)

type te = testutil.TarEntry

// buildxLayout writes what docker buildx pushes by default: an OCI index
// holding the amd64 image and its in-toto provenance manifest. The code is
// 0600 in a 0700 directory, as a umask-077 checkout would leave it.
func buildxLayout(t *testing.T, codeMode int64) string {
	dir := t.TempDir()
	w := testutil.NewLayout(t, dir)
	entry := testutil.PyTar(t, te{Name: "lambda-entrypoint.sh", Mode: 0o755, Body: "#!/bin/sh\nexec \"$@\"\n"})
	dirMode := int64(0o755)
	if codeMode&0o004 == 0 {
		dirMode = 0o700
	}
	code := testutil.PyTar(t, te{Name: "var", Type: "dir", Mode: 0o755}, te{Name: "var/task", Type: "dir", Mode: dirMode},
		te{Name: "var/task/app.py", Mode: codeMode, Body: "def handler(e, c):\n    return 'ok'\n"})
	img := w.Image(testutil.LayoutImage{ManifestType: types.OCIManifestSchema1, OS: "linux", Arch: "amd64",
		Config: v1.Config{Entrypoint: []string{"/lambda-entrypoint.sh"}, Cmd: []string{"app.handler"}, Env: []string{"LAMBDA_TASK_ROOT=/var/task"}},
		Layers: []testutil.LayoutLayer{{Tar: entry, MediaType: types.OCILayer}, {Tar: code, MediaType: types.OCILayer}}})
	w.Name("latest", w.Index(types.OCIImageIndex, img, w.Attestation(img)))
	return dir
}

func TestCheckCommand(t *testing.T) {
	bad := buildxLayout(t, 0o600)
	code, out, errOut := runCmd(t, nil, "check", "oci:"+bad, "--no-cache")
	assert.Equal(t, exitNotReady, code, errOut)
	assert.Contains(t, out, "image:\n  error   [index]")
	assert.Contains(t, out, "1 attestation manifest(s)")
	assert.Contains(t, out, "layer 2 sha256:")
	assert.Contains(t, out, "[unreadable]")
	assert.Contains(t, out, "/var/task/app.py (0600)")
	assert.Contains(t, out, "not Lambda-ready: 2 error(s)")
	assert.Contains(t, errOut, "not Lambda-ready")

	code, out, errOut = runCmd(t, nil, "check", "oci:"+bad+":latest", "--json", "--arch", "amd64", "--no-cache")
	assert.Equal(t, exitNotReady, code, errOut)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.EqualValues(t, 1, got["schemaVersion"])
	assert.Equal(t, false, got["ready"])
	assert.Equal(t, "linux/amd64", got["platform"])
	assert.NotEqual(t, got["digest"], got["manifest"], "an index's digest and the checked manifest's")
	fs := got["findings"].([]any)
	require.Len(t, fs, 2)
	assert.Equal(t, "index", fs[0].(map[string]any)["rule"])
	assert.Equal(t, "error", fs[0].(map[string]any)["severity"])
	assert.Equal(t, "unreadable", fs[1].(map[string]any)["rule"])
	assert.EqualValues(t, 2, fs[1].(map[string]any)["layer"])
	assert.Equal(t, "/var/task/", fs[1].(map[string]any)["path"], "the first of the paths listed")
	assert.Contains(t, fs[1].(map[string]any)["message"], "/var/task/app.py (0600)")
	assert.Equal(t, "amd64", got["inputs"].(map[string]any)["arch"])

	// The platform manifest itself, by digest through a layout: ready.
	good := t.TempDir()
	w := testutil.NewLayout(t, good)
	w.Name("fn", w.Image(testutil.LayoutImage{ManifestType: types.OCIManifestSchema1, OS: "linux", Arch: "amd64",
		Config: v1.Config{Entrypoint: []string{"/lambda-entrypoint.sh"}, Cmd: []string{"app.handler"}},
		Layers: []testutil.LayoutLayer{{Tar: testutil.PyTar(t, te{Name: "lambda-entrypoint.sh", Mode: 0o755, Body: "#!/bin/sh"}), MediaType: types.OCILayer}}}))
	code, out, errOut = runCmd(t, nil, "check", "oci:"+good+":fn", "--no-cache")
	assert.Equal(t, exitOK, code, errOut+out)
	assert.Contains(t, out, "Lambda-ready (0 warning(s))")
	assert.Empty(t, errOut)
}

// docker save output (made here by skopeo from a layout) is read too.
func TestCheckDockerArchive(t *testing.T) {
	testregistry.RequireTool(t, "skopeo")
	src := buildxLayout(t, 0o644)
	tarPath := filepath.Join(t.TempDir(), "image.tar")
	// skopeo copies the index's amd64 image into a docker save archive.
	cmd := exec.Command("skopeo", "copy", "--override-arch", "amd64", "--override-os", "linux", "oci:"+src+":latest", "docker-archive:"+tarPath+":fn:latest")
	outb, err := cmd.CombinedOutput()
	require.NoError(t, err, string(outb))
	code, out, errOut := runCmd(t, nil, "check", "docker-archive:"+tarPath, "--json", "--no-cache")
	assert.Equal(t, exitOK, code, errOut+out)
	var got checkOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got))
	assert.True(t, got.Ready)
	assert.Nil(t, got.Index)
	code, _, errOut = runCmd(t, nil, "check", "docker-archive:"+filepath.Join(t.TempDir(), "missing.tar"))
	assert.Equal(t, exitFailure, code)
	assert.Contains(t, errOut, "is not a file")
}

func TestFixCommandReadBackBySkopeoAndUmoci(t *testing.T) {
	src := buildxLayout(t, 0o600)
	outDir := filepath.Join(t.TempDir(), "fixed")
	code, out, errOut := runCmd(t, nil, "fix", "oci:"+src, "--oci-layout", outDir, "--json", "--no-cache")
	require.Equal(t, exitOK, code, errOut)
	var got fixOutput
	require.NoError(t, json.Unmarshal([]byte(out), &got), out)
	assert.Equal(t, 1, got.SchemaVersion)
	assert.True(t, got.Changed)
	require.Len(t, got.Layers, 1)
	assert.Equal(t, 2, got.Layers[0].Layer)
	assert.Contains(t, strings.Join(got.Layers[0].Changes, ";"), "2 mode(s) made readable")
	assert.Contains(t, errOut, "layer 2: sha256:")

	// Our own verdict on what was written.
	code, _, errOut = runCmd(t, nil, "check", "oci:"+outDir+":"+defaultImageName, "--no-cache")
	assert.Equal(t, exitOK, code, errOut)

	// A second fix of the fixed image changes nothing and keeps its digest.
	code, out2, errOut := runCmd(t, nil, "fix", "oci:"+outDir, "--oci-layout", filepath.Join(t.TempDir(), "again"), "--json", "--no-cache")
	require.Equal(t, exitOK, code, errOut)
	var again fixOutput
	require.NoError(t, json.Unmarshal([]byte(out2), &again))
	assert.False(t, again.Changed)
	assert.Equal(t, got.Digest, again.Digest)

	// Fixing twice from the same source gives the same digest.
	code, out3, errOut := runCmd(t, nil, "fix", "oci:"+src, "--oci-layout", filepath.Join(t.TempDir(), "twice"), "--no-cache")
	require.Equal(t, exitOK, code, errOut)
	assert.Equal(t, "localhost/lambda-function@"+got.Digest, strings.TrimSpace(out3), "deterministic")

	testregistry.RequireTool(t, "skopeo")
	testregistry.RequireTool(t, "umoci")
	insp, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+outDir).Output()
	require.NoError(t, err)
	var m v1.Manifest
	require.NoError(t, json.Unmarshal(insp, &m))
	assert.Equal(t, types.OCIManifestSchema1, m.MediaType)
	for _, l := range m.Layers {
		assert.Equal(t, types.OCILayer, l.MediaType)
	}
	// umoci verifies every blob's digest and diff_id as it unpacks.
	bundle := filepath.Join(t.TempDir(), "bundle")
	uout, err := exec.Command("umoci", "unpack", "--rootless", "--image", outDir+":"+defaultImageName, bundle).CombinedOutput()
	require.NoError(t, err, string(uout))
	st, err := os.Stat(filepath.Join(bundle, "rootfs", "var", "task", "app.py"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o644), st.Mode().Perm())
	st, err = os.Stat(filepath.Join(bundle, "rootfs", "var", "task"))
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o755), st.Mode().Perm())
}

func TestFixRefusesUnfixable(t *testing.T) {
	dir := t.TempDir()
	w := testutil.NewLayout(t, dir)
	w.Name("fn", w.Image(testutil.LayoutImage{ManifestType: types.OCIManifestSchema1, OS: "linux", Arch: "amd64",
		Config: v1.Config{Env: []string{"A=1"}},
		Layers: []testutil.LayoutLayer{{Tar: testutil.PyTar(t, te{Name: "opt", Type: "dir", Mode: 0o755}), MediaType: types.OCILayer}}}))
	outDir := filepath.Join(t.TempDir(), "out")
	code, out, errOut := runCmd(t, nil, "fix", "oci:"+dir, "--oci-layout", outDir, "--no-cache")
	assert.Equal(t, exitNotReady, code)
	assert.Empty(t, out)
	assert.Contains(t, errOut, "[no-entrypoint]")
	assert.Contains(t, errOut, "cannot make the image Lambda-ready")
	_, err := os.Stat(outDir)
	assert.True(t, os.IsNotExist(err), "nothing written")
}

func TestExitCodes(t *testing.T) {
	ctx := context.Background()
	cancelled, cancel := context.WithCancel(ctx)
	cancel()
	for _, tc := range []struct {
		name string
		ctx  context.Context
		err  error
		want int
	}{
		{"success", ctx, nil, 0},
		{"failure", ctx, errors.New("reading layer: unexpected EOF"), 1},
		{"usage", ctx, usage(errors.New("--arch: unknown")), 2},
		{"refused by a check", ctx, fmt.Errorf("build: %w", &checks.Error{Findings: []checks.Finding{{Rule: checks.RuleHardLinks}}}), 3},
		{"check verdict", ctx, &notReadyError{errors: 2}, 3},
		{"registry unauthorized", ctx, fmt.Errorf("x: %w", &registry.Error{Kind: registry.ErrUnauthorized, Op: "fetching base", Ref: "r"}), 4},
		{"no AWS credentials", ctx, &registry.Error{Kind: registry.ErrNoCredentials}, 4},
		{"IAM denied", ctx, &registry.Error{Kind: registry.ErrAccessDenied}, 4},
		{"interrupted", cancelled, fmt.Errorf("pushing: %w", context.Canceled), 130},
		{"cancelled without a signal", ctx, context.Canceled, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, exitCode(tc.ctx, tc.err))
		})
	}
}

// Usage errors from the parser and from flag validation exit 2, across
// commands.
func TestUsageExitCode(t *testing.T) {
	for _, args := range [][]string{
		{"check"},
		{"check", "a", "b"},
		{"check", "x", "--no-such-flag"},
		{"check", "oci:x", "--arch", "sparc"},
		{"fix", "oci:x"}, // no output
		{"build", "--runtime", "python3.12"},
		{"convert"},
		{"bogus-command"},
	} {
		t.Run(strings.Join(args, " "), func(t *testing.T) {
			code, _, errOut := runCmd(t, nil, args...)
			assert.Equal(t, exitUsage, code, errOut)
		})
	}
}

// wantCode is the exit code a table case expects: its entry in codes, else
// exitFailure.
func wantCode(name string, codes map[string]int) int {
	if c, ok := codes[name]; ok {
		return c
	}
	return exitFailure
}
