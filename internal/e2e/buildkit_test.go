package e2e

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testbuildkit"
)

// BuildKit backend (issue 12): the same function built in-process and
// through a real buildkitd (`--builder buildkit://unix:///...`) has the same
// layers, blob for blob, and the image the daemon pushed answers through the
// emulator as the non-root user on a read-only root.
//
// The function is scenarios 1 and 3 at once: two layers that both carry
// /opt/shared.sh (the later must win, so llb.Merge must keep the order),
// the earlier one also first-only.txt, and a code zip whose file the handler
// reads from the task root. The daemon pulls the busybox base from the
// suite's registry (TLS + basic auth: its CA in buildkitd.toml, the
// credentials through the session from lambda-oci's docker config) and
// pushes there.
func (w *world) testBuildKit(t *testing.T) {
	start := time.Now()
	daemon := testbuildkit.StartWith(t, testbuildkit.Options{RegistryCAs: map[string]string{w.reg.Host: w.reg.CAFile}})
	started := time.Since(start)

	fn := function{
		base: w.shellBase,
		layers: [][]ZipEntry{
			{
				{Name: "shared.sh", Mode: 0o644, Body: `handler() { echo '{"winner":"first"}'; }` + "\n"},
				{Name: "first-only.txt", Mode: 0o644, Body: "kept"},
			},
			{
				{Name: "shared.sh", Mode: 0o644, Body: `handler() { printf '{"winner":"second","first_only":"%s","data":"%s","event":%s}' "$(cat /opt/first-only.txt)" "$(cat "$LAMBDA_TASK_ROOT/data.txt")" "$1"; }` + "\n"},
			},
		},
		code:    []ZipEntry{{Name: "data.txt", Mode: 0o644, Body: "from-code-zip"}},
		handler: "shared.handler",
	}
	// The same zip files for both builds, and a fresh cache for each: the
	// daemon's layers cannot come from the in-process build's cache.
	inputs := w.functionArgs(t, fn)
	buildWith := func(repo string, extra ...string) (string, string, time.Duration) {
		t.Helper()
		args := append(append([]string{}, inputs...), "--cache-dir", t.TempDir(), "--tag", w.reg.Host+"/"+repo+":1")
		args = append(args, extra...)
		begin := time.Now()
		stdout, stderr, err := w.lambdaOCI(t.Context(), args...)
		took := time.Since(begin)
		t.Logf("lambda-oci %s (%v)\nstderr:\n%s", strings.Join(args, " "), took.Round(time.Millisecond), stderr)
		require.NoError(t, err, "lambda-oci build failed:\n%s", stderr)
		ref := strings.TrimSpace(stdout)
		require.Regexp(t, `^`+regexpQuote(w.reg.Host+"/"+repo)+`@sha256:[0-9a-f]{64}$`, ref, "stdout must be only the pushed reference")
		return ref, stderr, took
	}
	localRef, _, localTook := buildWith("fn/buildkit-inprocess")
	bkRef, bkStderr, bkTook := buildWith("fn/buildkit", "--builder", "buildkit://"+daemon.Address)
	// The daemon did the assembling and the push: its status stream is on
	// stderr.
	assert.Contains(t, bkStderr, "buildkit: exporting to image")
	_, printed, _ := strings.Cut(bkRef, "@")
	assert.Equal(t, printed, w.tagDigest(t, "fn/buildkit"), "the registry's digest of the tag is the one printed")

	local, localMT := w.pulledImage(t, localRef)
	bk, bkMT := w.pulledImage(t, bkRef)
	// One manifest in the base's family (Docker schema 2), as in-process.
	assert.Equal(t, types.DockerManifestSchema2, localMT)
	assert.Equal(t, localMT, bkMT)
	want := digests(t, local)
	got := digests(t, bk)
	base := digests(t, w.shellImage)
	require.Len(t, want, len(base)+3, "base layers, two Lambda layers, the code")
	assert.Equal(t, base, want[:len(base)], "the base's layers as they are")
	assert.Equal(t, want, got, "every layer of the daemon's image is the in-process build's blob")
	localCfg, err := local.ConfigFile()
	require.NoError(t, err)
	bkCfg, err := bk.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, localCfg.Config, bkCfg.Config)
	assert.Equal(t, localCfg.RootFS, bkCfg.RootFS)
	assert.Equal(t, []string{"shared.handler"}, bkCfg.Config.Cmd)

	invokeStart := time.Now()
	status, body := w.invoke(t, bkRef, "shared.handler", `{"x":1}`)
	assert.Equal(t, 200, status, body)
	assert.JSONEq(t, `{"winner":"second","first_only":"kept","data":"from-code-zip","event":{"x":1}}`, body)
	t.Logf("timing: buildkitd start %v, in-process build %v, build on buildkitd %v, pull + invoke %v",
		started.Round(time.Millisecond), localTook.Round(time.Millisecond), bkTook.Round(time.Millisecond),
		time.Since(invokeStart).Round(time.Millisecond))
}

// functionArgs writes fn's zips to a temp dir and returns the build
// arguments for them, without cache, tag or builder.
func (w *world) functionArgs(t *testing.T, fn function) []string {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "--base", fn.base, "--arch", w.arch}
	for i, l := range fn.layers {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.zip", i+1))
		require.NoError(t, WriteZip(p, l))
		args = append(args, "--layer", p)
	}
	code := filepath.Join(dir, "code.zip")
	require.NoError(t, WriteZip(code, fn.code))
	args = append(args, "--code", code, "--handler", fn.handler)
	return append(args, fn.extra...)
}

// pulledImage is ref as the registry serves it, with its manifest's media
// type; an index fails the test.
func (w *world) pulledImage(t *testing.T, ref string) (v1.Image, types.MediaType) {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	desc, err := remote.Get(r, append(w.remoteOpts, remote.WithContext(t.Context()))...)
	require.NoError(t, err)
	require.False(t, desc.MediaType.IsIndex(), "%s is an index (%s): Lambda takes one manifest", ref, desc.MediaType)
	img, err := desc.Image()
	require.NoError(t, err)
	return img, desc.MediaType
}

func digests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	out := make([]v1.Hash, 0, len(ls))
	for _, l := range ls {
		d, err := l.Digest()
		require.NoError(t, err)
		out = append(out, d)
	}
	return out
}
