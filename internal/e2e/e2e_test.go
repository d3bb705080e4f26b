package e2e

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

const (
	regUser = "AWS"
	regPass = "e2e-password"
)

// world is what every scenario shares: one registry, the two bases pushed
// once, one podman storage, one lambda-oci binary.
type world struct {
	reg        *testregistry.Server
	podman     *Podman
	remoteOpts []remote.Option
	arch       string // Lambda name of the host architecture
	shellBase  string // HOST/lambda/shell:1, with the shell runtime
	provBase   string // HOST/lambda/provided:1, no /var/runtime/bootstrap
	shellImage v1.Image
	bin        string // lambda-oci
	binEnv     []string
	cacheDir   string    // lambda-oci's layer cache, shared by the scenarios
	node       *nodeBase // the Node.js base, pushed by the first scenario needing it
}

func newWorld(t *testing.T) *world {
	t.Helper()
	testregistry.RequireTool(t, "podman", "runc", "conmon", "busybox", "aws-lambda-rie", "docker-registry", "skopeo")
	ctx := t.Context()
	arch, err := LambdaArch(runtime.GOARCH)
	if err != nil {
		t.Skip(err)
	}
	w := &world{arch: arch}
	w.reg = testregistry.Start(t, testregistry.Options{TLS: true, Username: regUser, Password: regPass})
	w.remoteOpts = []remote.Option{
		remote.WithAuth(&authn.Basic{Username: regUser, Password: regPass}),
		remote.WithTransport(w.reg.Transport()),
	}
	w.podman = NewPodman(t, PodmanOptions{CertDir: w.reg.CertDir, Username: regUser, Password: regPass})

	busybox, err := exec.LookPath("busybox")
	require.NoError(t, err)
	rie, err := exec.LookPath("aws-lambda-rie")
	require.NoError(t, err)
	for _, b := range []struct {
		ref  *string
		name string
		opts BaseOptions
	}{
		{&w.shellBase, "lambda/shell:1", BaseOptions{BusyboxPath: busybox, RIEPath: rie}},
		// OCI media types here, Docker schema 2 above: both families reach podman.
		{&w.provBase, "lambda/provided:1", BaseOptions{BusyboxPath: busybox, RIEPath: rie, NoBootstrap: true, OCI: true}},
	} {
		img, err := BuildBase(b.opts)
		require.NoError(t, err)
		*b.ref = w.reg.Host + "/" + b.name
		ref, err := name.ParseReference(*b.ref)
		require.NoError(t, err)
		_, err = PushIndex(ctx, ref, img, w.remoteOpts...)
		require.NoError(t, err)
		if !b.opts.NoBootstrap {
			w.shellImage = img
		}
	}

	dir := t.TempDir()
	w.cacheDir = t.TempDir()
	w.bin = filepath.Join(dir, "lambda-oci")
	build := exec.CommandContext(ctx, "go", "build", "-o", w.bin, "github.com/lambda-oci/lambda-oci/cmd/lambda-oci")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "go build lambda-oci:\n%s", out)
	// lambda-oci authenticates to a plain registry through the docker config
	// keychain and trusts the test CA through SSL_CERT_FILE.
	dockerConfig := filepath.Join(dir, "docker")
	require.NoError(t, os.MkdirAll(dockerConfig, 0o700))
	auth := base64.StdEncoding.EncodeToString([]byte(regUser + ":" + regPass))
	require.NoError(t, os.WriteFile(filepath.Join(dockerConfig, "config.json"),
		fmt.Appendf(nil, `{"auths":{%q:{"auth":%q}}}`, w.reg.Host, auth), 0o600))
	w.binEnv = append(os.Environ(), "DOCKER_CONFIG="+dockerConfig, "SSL_CERT_FILE="+w.reg.CAFile)
	return w
}

// lambdaOCI runs the lambda-oci binary and returns stdout and stderr.
func (w *world) lambdaOCI(ctx context.Context, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.binEnv
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
}

// function describes one build: zips written to a temp dir, then
// `lambda-oci build ... --tag`.
type function struct {
	base    string
	layers  [][]ZipEntry
	code    []ZipEntry
	handler string
	extra   []string
}

// build runs lambda-oci build and returns the pushed reference
// (NAME@sha256:...) it printed.
func (w *world) build(t *testing.T, repo string, fn function) (string, string, error) {
	t.Helper()
	dir := t.TempDir()
	args := []string{"build", "--base", fn.base, "--arch", w.arch, "--cache-dir", w.cacheDir}
	for i, l := range fn.layers {
		p := filepath.Join(dir, fmt.Sprintf("layer%d.zip", i+1))
		require.NoError(t, WriteZip(p, l))
		args = append(args, "--layer", p)
	}
	code := filepath.Join(dir, "code.zip")
	require.NoError(t, WriteZip(code, fn.code))
	args = append(args, "--code", code, "--handler", fn.handler, "--tag", w.reg.Host+"/"+repo+":1")
	args = append(args, fn.extra...)
	stdout, stderr, err := w.lambdaOCI(t.Context(), args...)
	t.Logf("lambda-oci %s\nstderr:\n%s", strings.Join(args, " "), stderr)
	return strings.TrimSpace(stdout), stderr, err
}

// mustBuild builds and checks the printed reference is a digest reference
// in the wanted repository.
func (w *world) mustBuild(t *testing.T, repo string, fn function) string {
	t.Helper()
	ref, stderr, err := w.build(t, repo, fn)
	require.NoError(t, err, "lambda-oci build failed:\n%s", stderr)
	require.Regexp(t, `^`+regexpQuote(w.reg.Host+"/"+repo)+`@sha256:[0-9a-f]{64}$`, ref, "stdout must be only the pushed reference")
	return ref
}

func regexpQuote(s string) string {
	r := strings.NewReplacer(".", `\.`, ":", `\:`)
	return r.Replace(s)
}

// invoke pulls ref, runs it and invokes it once with payload; it logs the
// cold (podman run → first response) and warm invoke times.
func (w *world) invoke(t *testing.T, ref, handler, payload string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	pullStart := time.Now()
	_, err := w.podman.Pull(ctx, ref)
	require.NoError(t, err)
	pull := time.Since(pullStart)
	f, err := w.podman.RunFunction(ctx, t, ref, handler)
	require.NoError(t, err)
	status, body, err := f.Invoke(ctx, payload)
	require.NoError(t, err)
	cold := time.Since(f.Started)
	t.Logf("response %d: %s", status, body)
	start := time.Now()
	status2, body2, err := f.Invoke(ctx, payload)
	require.NoError(t, err)
	t.Logf("timing: podman pull %v, podman run → first response %v, warm invoke %v",
		pull.Round(time.Millisecond), cold.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
	assert.Equal(t, status, status2, "a warm invoke answers as the cold one did")
	assert.Equal(t, string(body), string(body2), "a warm invoke answers as the cold one did")
	return status, string(body)
}

// pushImage pushes a hand-assembled single-platform image and returns its
// digest reference.
func (w *world) pushImage(t *testing.T, repo string, img v1.Image) string {
	t.Helper()
	ref, err := name.ParseReference(w.reg.Host + "/" + repo + ":1")
	require.NoError(t, err)
	require.NoError(t, remote.Write(ref, img, append(w.remoteOpts, remote.WithContext(t.Context()))...))
	d, err := img.Digest()
	require.NoError(t, err)
	return ref.Context().Digest(d.String()).String()
}

// TestE2E runs every scenario against one registry, one pair of bases and
// one podman storage (setting those up is most of the cost).
func TestE2E(t *testing.T) {
	suiteStart := time.Now()
	w := newWorld(t)
	t.Logf("setup (registry, bases, lambda-oci binary): %v", time.Since(suiteStart).Round(time.Millisecond))
	t.Cleanup(func() { t.Logf("whole e2e suite: %v", time.Since(suiteStart).Round(time.Millisecond)) })

	t.Run("base/index", w.testBaseIndex)
	t.Run("harness/hand-assembled image answers", w.testHandAssembled)
	t.Run("harness/entrypoint contract", w.testEntrypointContract)
	t.Run("scenario4/control: unnormalised modes fail as non-root", w.testUnnormalisedControl)
	t.Run("scenario1/handler in layer under /opt", w.testScenario1)
	t.Run("scenario2/task root beats layer", w.testScenario2)
	t.Run("scenario3/later layer wins", w.testScenario3)
	t.Run("scenario4/0600 and 0700 zip runs as non-root", w.testScenario4)
	t.Run("scenario5/provided bootstrap from code zip", w.testScenario5)
	t.Run("scenario6/wrong handler refused before push", w.testScenario6Handler)
	t.Run("scenario6/foreign ELF refused before push", w.testScenario6ELF)
	t.Run("scenario7/pulled digest equals printed digest", w.testScenario7)
	t.Run("scenario8/migrated zip function answers through the emulator", w.testScenario8Migrate)
	// Real language runtimes and real packages from layers (issue 14).
	t.Run("fidelity/python", w.testFidelityPython)
	t.Run("fidelity/nodejs", w.testFidelityNode)
	// check and fix on a buildx-shaped image (issue 10).
	t.Run("issue10/buildx attestation index with 0600 code: check refuses, fix repairs, fixed answers, unfixed denied", w.testBuildxFix)
	// Node.js handler checks that agree with the runtime (issue 18).
	t.Run("issue18/nodejs handler only in a layer (.mjs, .cjs): refused, and fails at invoke", w.testNodeHandlerLayerOnly)
	t.Run("issue18/nodejs handler as directory module lib/index.js: accepted, and answers", w.testNodeHandlerDirModule)
	t.Run("issue12/buildkitd build: layers equal the in-process build's, and answers", w.testBuildKit)
}

// tagDigest is the manifest digest the registry serves for repo:1.
func (w *world) tagDigest(t *testing.T, repo string) string {
	t.Helper()
	ref, err := name.ParseReference(w.reg.Host + "/" + repo + ":1")
	require.NoError(t, err)
	desc, err := remote.Head(ref, append(w.remoteOpts, remote.WithContext(t.Context()))...)
	require.NoError(t, err)
	return desc.Digest.String()
}

// pushes counts the manifest PUTs the registry logged for repo.
func (w *world) pushes(t *testing.T, repo string) int {
	t.Helper()
	n := 0
	for _, r := range w.reg.Requests(t) {
		if r.Method == "PUT" && strings.HasPrefix(r.Path, "/v2/"+repo+"/manifests/") && r.Status/100 == 2 {
			n++
		}
	}
	return n
}

// assertNotPushed checks that no manifest or tag reached repo: a refused
// build must leave nothing in the registry that names an image.
func (w *world) assertNotPushed(t *testing.T, repo string) {
	t.Helper()
	// Blobs may be uploaded (or mounted) while a build runs, before its
	// checks end (README, pushing); a manifest or tag never is.
	for _, r := range w.reg.Requests(t) {
		if strings.HasPrefix(r.Path, "/v2/"+repo+"/manifests/") && r.Method != "GET" && r.Method != "HEAD" {
			t.Errorf("refused build still wrote a manifest: %s %s -> %d", r.Method, r.Path, r.Status)
		}
	}
	ref, err := name.ParseReference(w.reg.Host + "/" + repo + ":1")
	require.NoError(t, err)
	_, err = remote.Head(ref, append(w.remoteOpts, remote.WithContext(t.Context()))...)
	assert.Error(t, err, "no manifest may exist for a refused build")
}
