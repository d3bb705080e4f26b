package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os/exec"
	"path"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// Issue 10's scenario: an image shaped like `docker buildx build --push`
// makes it by default (an OCI index holding the image manifest and an
// in-toto provenance attestation manifest, platform unknown/unknown) whose
// code is private to root (0600 files, 0700 directories, as `zip -r` under
// umask 077 leaves them). lambda-oci check refuses it with both findings,
// lambda-oci fix writes a Lambda-ready copy that check accepts and that
// answers as the non-root user; the unfixed image, run the same way, fails
// with permission denied, so the finding is real and not mere caution.
//
// The image is made by independent means: the code layer by Python's
// tarfile, the manifests, config, attestation and index as hand-written
// JSON (internal/testutil's LayoutWriter), pushed blob for blob. Its other
// layers are the shell base's tar streams, as buildx carries the FROM
// image's layers.
func (w *world) testBuildxFix(t *testing.T) {
	testRequireTool(t, "python3")
	ctx := t.Context()
	repo, fixedRepo := "fn/buildx-private", "fn/buildx-private-fixed"
	src := w.reg.Host + "/" + repo + ":1"
	srcManifest := w.pushBuildxImage(t, src, privateModesCode, "app.handler")

	// An independent client sees what buildx pushes: an index, the image
	// for the host's platform and the attestation manifest beside it.
	raw, err := exec.CommandContext(ctx, "skopeo", "inspect", "--raw", "--cert-dir", w.reg.CertDir,
		"--creds", regUser+":"+regPass, "docker://"+src).Output()
	require.NoError(t, err, "skopeo inspect --raw %s", src)
	var idx v1.IndexManifest
	require.NoError(t, json.Unmarshal(raw, &idx))
	assert.Equal(t, types.OCIImageIndex, idx.MediaType)
	require.Len(t, idx.Manifests, 2)
	assert.Equal(t, "unknown", idx.Manifests[1].Platform.OS)
	assert.Equal(t, "attestation-manifest", idx.Manifests[1].Annotations["vnd.docker.reference.type"])

	// check: not Lambda-ready (exit 3), for the index and for the modes.
	rep := w.checkJSON(t, 3, src)
	assert.False(t, rep.Ready)
	errs := map[string][]string{}
	for _, f := range rep.Findings {
		if f.Severity == "error" {
			errs[f.Rule] = append(errs[f.Rule], f.Message)
		}
	}
	assert.ElementsMatch(t, []string{"index", "unreadable"}, keys(errs), "the error findings: %+v", rep.Findings)
	assert.Contains(t, strings.Join(errs["index"], "\n"), "1 attestation manifest(s)")
	unreadable := strings.Join(errs["unreadable"], "\n")
	for _, p := range []string{"/var/task/app.sh (0600)", "/var/task/lib/ (0700)"} {
		assert.Contains(t, unreadable, p, "the 0600 file and the 0700 directory are named")
	}
	assert.Equal(t, srcManifest.String(), rep.Manifest, "the platform manifest of the index is the one checked")

	// fix: the index's one platform, the code layer made readable; pushed.
	fixedTag := w.reg.Host + "/" + fixedRepo + ":1"
	stdout, stderr, err := w.lambdaOCI(ctx, "fix", src, "--tag", fixedTag, "--cache-dir", w.cacheDir)
	t.Logf("lambda-oci fix %s --tag %s\nstderr:\n%s", src, fixedTag, stderr)
	require.NoError(t, err, "lambda-oci fix:\n%s", stderr)
	assert.Contains(t, stderr, "mode(s) made readable", "fix reports what it changed")
	fixed := strings.TrimSpace(stdout)
	require.Regexp(t, `^`+regexpQuote(w.reg.Host+"/"+fixedRepo)+`@sha256:[0-9a-f]{64}$`, fixed, "stdout must be only the pushed reference")

	// The fixed image is one manifest (no index), every layer but the code
	// layer is the very blob buildx pushed, and check now accepts it.
	before := w.manifest(t, w.reg.Host+"/"+repo+"@"+srcManifest.String())
	after := w.manifest(t, fixed)
	assert.Equal(t, types.OCIManifestSchema1, after.MediaType, "a single-platform manifest, not an index")
	require.Len(t, after.Layers, len(before.Layers))
	last := len(after.Layers) - 1
	assert.Equal(t, before.Layers[:last], after.Layers[:last], "layers that needed nothing keep their blobs")
	assert.NotEqual(t, before.Layers[last].Digest, after.Layers[last].Digest, "the code layer is rewritten")
	ok := w.checkJSON(t, 0, fixed)
	assert.True(t, ok.Ready, "%+v", ok.Findings)

	status, body := w.invoke(t, fixed, "app.handler", `{}`)
	assert.Equal(t, 200, status, body)
	assert.JSONEq(t, `{"helper":"helper-sourced","tool":"tool-ran"}`, body)

	// The unfixed index, pulled by podman (which picks the host's platform
	// out of it) and run the same way: Lambda's non-root user cannot read
	// the handler's file.
	status, body = w.invoke(t, src, "app.handler", `{}`)
	assert.Equal(t, 502, status, "the emulator reports an init error as 502")
	assert.Contains(t, body, "Runtime.ImportModuleError")
	assert.Contains(t, body, "can't open '/var/task/app.sh': Permission denied")
}

// pushBuildxImage writes the buildx-shaped OCI layout (see testBuildxFix)
// with code under the task root and CMD handler, pushes its index to tag,
// and returns the image manifest's digest.
func (w *world) pushBuildxImage(t *testing.T, tag string, code []ZipEntry, handler string) v1.Hash {
	t.Helper()
	var layers []testutil.LayoutLayer
	baseLayers, err := w.shellImage.Layers()
	require.NoError(t, err)
	for _, l := range baseLayers {
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tarBytes, err := io.ReadAll(rc)
		require.NoError(t, err)
		require.NoError(t, rc.Close())
		layers = append(layers, testutil.LayoutLayer{Tar: tarBytes, Compression: "gzip", MediaType: types.OCILayer})
	}
	// What `COPY app/ /var/task/` gives from files unpacked with their
	// private modes: the parents as the base has them, the code as it is.
	entries := []testutil.TarEntry{{Name: "var", Type: "dir", Mode: 0o755}, {Name: "var/task", Type: "dir", Mode: 0o755}}
	for _, e := range code {
		n := path.Join("var/task", e.Name)
		if strings.HasSuffix(e.Name, "/") {
			entries = append(entries, testutil.TarEntry{Name: n, Type: "dir", Mode: int64(e.Mode.Perm())})
			continue
		}
		entries = append(entries, testutil.TarEntry{Name: n, Mode: int64(e.Mode.Perm()), Body: e.Body})
	}
	layers = append(layers, testutil.LayoutLayer{Tar: testutil.PyTar(t, entries...), Compression: "gzip", MediaType: types.OCILayer})

	arch, err := archOf(w.shellImage)
	require.NoError(t, err)
	dir := t.TempDir()
	lw := testutil.NewLayout(t, dir)
	img := lw.Image(testutil.LayoutImage{
		ManifestType: types.OCIManifestSchema1, OS: "linux", Arch: arch, Layers: layers,
		Config: v1.Config{Env: append([]string(nil), baseEnv...), Entrypoint: []string{"/lambda-entrypoint.sh"},
			Cmd: []string{handler}, WorkingDir: "/var/task"},
	})
	top := lw.Index(types.OCIImageIndex, img, lw.Attestation(img))
	lw.Name("buildx", top)

	// go-containerregistry is only the transport here: it pushes the
	// layout's blobs and manifests byte for byte.
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	outer, err := p.ImageIndex()
	require.NoError(t, err)
	ii, err := outer.ImageIndex(top.Digest)
	require.NoError(t, err)
	ref, err := name.ParseReference(tag)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(ref, ii, append(w.remoteOpts, remote.WithContext(t.Context()))...))
	return img.Digest
}

func archOf(img v1.Image) (string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return "", err
	}
	return cf.Architecture, nil
}

// checkReport is the part of `lambda-oci check --json` the scenarios read
// (the README's documented shape).
type checkReport struct {
	Ready    bool   `json:"ready"`
	Digest   string `json:"digest"`
	Manifest string `json:"manifest"`
	Findings []struct {
		Rule     string `json:"rule"`
		Severity string `json:"severity"`
		Path     string `json:"path"`
		Message  string `json:"message"`
	} `json:"findings"`
}

// checkJSON runs `lambda-oci check --json` on ref, requires exit status
// want (0 ready, 3 not Lambda-ready) and returns the report.
func (w *world) checkJSON(t *testing.T, want int, ref string, args ...string) checkReport {
	t.Helper()
	args = append([]string{"check", ref, "--json", "--cache-dir", w.cacheDir}, args...)
	stdout, stderr, err := w.lambdaOCI(t.Context(), args...)
	t.Logf("lambda-oci %s\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), stdout, stderr)
	require.Equal(t, want, exitStatus(t, err), "exit status of lambda-oci check %s", ref)
	var rep checkReport
	require.NoError(t, json.Unmarshal([]byte(stdout), &rep), "check --json prints one JSON object")
	return rep
}

// manifest is the image manifest the registry serves for ref.
func (w *world) manifest(t *testing.T, ref string) *v1.Manifest {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	desc, err := remote.Get(r, append(w.remoteOpts, remote.WithContext(t.Context()))...)
	require.NoError(t, err)
	require.False(t, desc.MediaType.IsIndex(), "%s is an index", ref)
	m, err := v1.ParseManifest(bytes.NewReader(desc.Manifest))
	require.NoError(t, err)
	return m
}

// config is the config file of the image manifest ref names.
func (w *world) config(t *testing.T, ref string) *v1.ConfigFile {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	img, err := remote.Image(r, append(w.remoteOpts, remote.WithContext(t.Context()))...)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	return cf
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// exitStatus is the exit status of a lambda-oci run (0 when err is nil).
func exitStatus(t *testing.T, err error) int {
	t.Helper()
	if err == nil {
		return 0
	}
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "lambda-oci did not run: %v", err)
	return exit.ExitCode()
}
