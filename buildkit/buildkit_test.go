package buildkit_test

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/buildkit"
	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/fakeecr"
	"github.com/lambda-oci/lambda-oci/internal/testbuildkit"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/registry"
)

// env is a real docker-registry and a real buildkitd on loopback.
type env struct {
	reg    *testregistry.Server
	daemon *testbuildkit.Daemon
}

func startEnv(t testing.TB) env {
	t.Helper()
	return env{reg: testregistry.Start(t, testregistry.Options{}), daemon: testbuildkit.Start(t)}
}

// pushBase puts the generated multi-arch base (OCI or Docker media types)
// in the registry.
func (e env) pushBase(t testing.TB, repo string, docker bool) string {
	t.Helper()
	idx, err := basegen.Index()
	if docker {
		idx, err = basegen.DockerIndex()
	}
	require.NoError(t, err)
	ref := e.reg.Host + "/" + repo + ":latest"
	tag, err := name.NewTag(ref)
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(tag, idx))
	return ref
}

func spec(t *testing.T, base string, code string) build.Spec {
	t.Helper()
	return build.Spec{
		Base: base, Arch: "x86_64", Handler: "app.handler", Created: testutil.FixedTime,
		Layers: []build.Source{{Path: testutil.WriteZip(t, "layer.zip", basegen.DemoLayerFiles()...)}},
		Code:   build.Source{Path: codeDir(t, code), Name: "code"},
	}
}

func codeDir(t testing.TB, body string) string {
	return testutil.WriteDir(t, testutil.F("app.py", 0o644, "def handler(e, c):\n    return "+body+"\n"))
}

// pulled is the image the daemon pushed, read back from the registry.
func pulled(t *testing.T, ref string) (v1.Image, types.MediaType) {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	desc, err := remote.Get(r)
	require.NoError(t, err)
	img, err := desc.Image()
	require.NoError(t, err)
	return img, desc.MediaType
}

func layerDigests(t *testing.T, img v1.Image) []v1.Hash {
	t.Helper()
	ls, err := img.Layers()
	require.NoError(t, err)
	var out []v1.Hash
	for _, l := range ls {
		h, err := l.Digest()
		require.NoError(t, err)
		out = append(out, h)
	}
	return out
}

// checkImage runs every Lambda rule on an image as a registry serves it:
// each layer read back (real decompression, diffID verified).
func checkImage(t *testing.T, img v1.Image, mt types.MediaType) []checks.Finding {
	t.Helper()
	raw, err := img.RawManifest()
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	ci := &checks.Image{MediaType: mt, ManifestSize: int64(len(raw)), Config: cf}
	for i, l := range ls {
		var cl checks.Layer
		cl.Digest, _ = l.Digest()
		cl.MediaType, _ = l.MediaType()
		cl.Size, _ = l.Size()
		cl.DiffID = cf.RootFS.DiffIDs[i]
		cl.Listing, err = checks.ReadLayer(context.Background(), l)
		require.NoError(t, err, "layer %d", i+1)
		ci.Layers = append(ci.Layers, cl)
	}
	return checks.Run(ci, checks.Config{})
}

func TestBuildMatchesInProcess(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	for _, tc := range []struct {
		name   string
		docker bool // a Docker-family base (as AWS's are) instead of OCI
		layout bool // the base as an OCI layout on disk (through the session)
	}{
		{name: "oci registry base"},
		{name: "docker registry base", docker: true},
		{name: "oci layout base", layout: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := strings.ReplaceAll(tc.name, " ", "-")
			base := e.pushBase(t, repo+"/base", tc.docker)
			if tc.layout {
				dir := filepath.Join(t.TempDir(), "layout")
				idx, err := basegen.Index()
				require.NoError(t, err)
				require.NoError(t, basegen.WriteLayout(dir, idx, "base:latest"))
				base = registry.LayoutPrefix + dir + ":base:latest"
			}
			s := spec(t, base, "1")

			local, err := build.Build(ctx, s, build.Options{CacheDir: t.TempDir()})
			require.NoError(t, err)
			defer local.Close()
			localCfg, err := local.Image.ConfigFile()
			require.NoError(t, err)

			tag := e.reg.Host + "/" + repo + "/fn:v1"
			res, err := buildkit.Build(ctx, s, buildkit.Options{Address: e.daemon.Address, Tags: []string{tag}, Build: build.Options{CacheDir: t.TempDir()}})
			require.NoError(t, err)
			require.Len(t, res.References, 1)

			img, mt := pulled(t, res.References[0])
			// One manifest, in the base's family: no index, no attestation.
			assert.Equal(t, local.MediaType, mt)
			assert.Equal(t, res.MediaType, mt)
			// Every layer, base and added, is the very blob of the in-process build.
			var want []v1.Hash
			for _, l := range local.Layers {
				want = append(want, l.Digest)
			}
			assert.Equal(t, want, layerDigests(t, img))
			for _, l := range layerDigests(t, img) {
				ly, err := img.LayerByDigest(l)
				require.NoError(t, err)
				lmt, err := ly.MediaType()
				require.NoError(t, err)
				assert.Equal(t, local.Layers[0].MediaType, lmt, "layer %s", l)
			}
			// The config is the one the build computed.
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, localCfg.Config, cf.Config)
			assert.Equal(t, localCfg.RootFS, cf.RootFS)
			assert.Equal(t, localCfg.History, cf.History)
			assert.Equal(t, localCfg.Platform(), cf.Platform())
			assert.Equal(t, []string{"app.handler"}, cf.Config.Cmd)
			// And it passes Lambda's rules as the registry serves it.
			assert.NoError(t, checks.Errors(checkImage(t, img, mt)))
		})
	}
}

// uploads are the blob digests the registry received (monolithic or
// chunked uploads end with a PUT naming the digest) and the cross-repository
// mounts it was asked for, from its access log.
func uploads(reqs []testregistry.Request) (put, mounted []string) {
	for _, r := range reqs {
		u, err := url.Parse(r.Path)
		if err != nil || !strings.Contains(u.Path, "/blobs/uploads/") {
			continue
		}
		q := u.Query()
		switch {
		case r.Method == "PUT" && q.Get("digest") != "":
			put = append(put, q.Get("digest"))
		case r.Method == "POST" && q.Get("mount") != "" && r.Status == 201:
			mounted = append(mounted, q.Get("mount"))
		}
	}
	return put, mounted
}

func TestCacheAndCodeOnlyChange(t *testing.T) {
	e := startEnv(t)
	ctx := context.Background()
	base := e.pushBase(t, "cache/base", false)
	s := spec(t, base, "1")
	tag := e.reg.Host + "/cache/fn:v1"
	opts := buildkit.Options{Address: e.daemon.Address, Tags: []string{tag}, Build: build.Options{CacheDir: t.TempDir()}}

	first, err := buildkit.Build(ctx, s, opts)
	require.NoError(t, err)
	before := len(e.reg.Requests(t))
	assert.False(t, step(t, first, mergeStep).Cached, "first build")
	t.Logf("first build steps: %+v", first.Steps)

	// Unchanged spec: the daemon serves the merged result from its cache.
	// (Source vertices are never reported cached: each solve resolves its
	// sources again — cheaply, by digest — and the cache answers from there.)
	var events []buildkit.Event
	opts.Events = func(ev buildkit.Event) { events = append(events, ev) }
	second, err := buildkit.Build(ctx, s, opts)
	require.NoError(t, err)
	assert.Equal(t, first.Digest, second.Digest)
	assert.True(t, step(t, second, mergeStep).Cached, "unchanged spec: merge served from the cache")
	assert.NotEmpty(t, events, "progress leaves as events")
	put, _ := uploads(e.reg.Requests(t)[before:])
	assert.Empty(t, put, "nothing uploaded for an unchanged image")

	// Code-only change: the code layer and the config are the only uploads.
	before = len(e.reg.Requests(t))
	s.Code = build.Source{Path: codeDir(t, "2"), Name: "code"}
	third, err := buildkit.Build(ctx, s, opts)
	require.NoError(t, err)
	assert.NotEqual(t, first.Digest, third.Digest)
	code := third.Build.Layers[len(third.Build.Layers)-1]
	require.Equal(t, "code", code.Kind)
	img, _ := pulled(t, third.References[0])
	cfgName, err := img.ConfigName()
	require.NoError(t, err)
	put, mounted := uploads(e.reg.Requests(t)[before:])
	assert.ElementsMatch(t, []string{code.Digest.String(), cfgName.String()}, put)
	assert.Empty(t, mounted)
	assert.False(t, step(t, third, mergeStep).Cached, "code changed: merge runs again")
}

const mergeStep = "stack the layers on the base"

func step(t *testing.T, r *buildkit.Result, name string) buildkit.Step {
	t.Helper()
	for _, s := range r.Steps {
		if s.Name == name {
			return s
		}
	}
	t.Fatalf("no step %q in %+v", name, r.Steps)
	return buildkit.Step{}
}

func TestCredentialsThroughSession(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{Username: "ciuser", Password: "cipass"})
	daemon := testbuildkit.Start(t)
	ctx := context.Background()
	// The docker config our keychain reads; the daemon has no credentials.
	cfgDir := t.TempDir()
	auth := fmt.Sprintf(`{"auths":{%q:{"auth":"Y2l1c2VyOmNpcGFzcw=="}}}`, reg.Host)
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.json"), []byte(auth), 0o600))
	t.Setenv("DOCKER_CONFIG", cfgDir)

	idx, err := basegen.Index()
	require.NoError(t, err)
	tag, err := name.NewTag(reg.Host + "/auth/base:latest")
	require.NoError(t, err)
	kc := registry.NewKeychain(registry.Options{})
	require.NoError(t, remote.WriteIndex(tag, idx, remote.WithAuthFromKeychain(kc)))

	s := spec(t, tag.String(), "1")
	res, err := buildkit.Build(ctx, s, buildkit.Options{Address: daemon.Address, Tags: []string{reg.Host + "/auth/fn:v1"}, Build: build.Options{CacheDir: t.TempDir()}})
	require.NoError(t, err)
	r, err := name.ParseReference(res.References[0])
	require.NoError(t, err)
	_, err = remote.Get(r, remote.WithAuthFromKeychain(kc))
	require.NoError(t, err)
	_, err = remote.Get(r)
	require.Error(t, err, "the registry really requires credentials")
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	s := build.Spec{Base: "example.com/base:latest", Handler: "app.handler", Code: build.Source{Path: "code"}}
	missing := "unix://" + filepath.Join(t.TempDir(), "nothing.sock")
	for _, tc := range []struct {
		name string
		opts buildkit.Options
		want string
	}{
		{"no daemon", buildkit.Options{Address: missing, Tags: []string{"example.com/fn:v1"}}, "buildkit: daemon " + missing + " is not reachable"},
		{"no address", buildkit.Options{Tags: []string{"example.com/fn:v1"}}, "no daemon address"},
		{"no tag", buildkit.Options{Address: missing}, "no image reference to push to"},
		{"attestation", buildkit.Options{Address: missing, Tags: []string{"example.com/fn:v1"}, ExporterAttrs: map[string]string{"attest:provenance": "mode=max"}}, `attestations are refused`},
		{"own attribute", buildkit.Options{Address: missing, Tags: []string{"example.com/fn:v1"}, ExporterAttrs: map[string]string{"oci-mediatypes": "true"}}, `"oci-mediatypes" is set by lambda-oci`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := buildkit.Build(ctx, s, tc.opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestDaemonFailureKeepsBuildKitMessage(t *testing.T) {
	e := startEnv(t)
	base := e.pushBase(t, "fail/base", false)
	s := spec(t, base, "1")
	// A tag on a port where nothing listens: the daemon's push fails.
	res, err := buildkit.Build(context.Background(), s, buildkit.Options{Address: e.daemon.Address,
		Tags: []string{"127.0.0.1:1/fail/fn:v1"}, Build: build.Options{CacheDir: t.TempDir()}})
	require.Error(t, err, "%v", res)
	assert.Contains(t, err.Error(), "buildkit: build on "+e.daemon.Address)
	assert.Contains(t, err.Error(), "127.0.0.1:1")
}

func TestParseAddress(t *testing.T) {
	for _, tc := range []struct {
		in   string
		addr string
		ok   bool
	}{
		{"buildkit://unix:///run/buildkit/buildkitd.sock", "unix:///run/buildkit/buildkitd.sock", true},
		{"buildkit://tcp://10.0.0.1:1234", "tcp://10.0.0.1:1234", true},
		{"buildkit://", "", false},
		{"local", "", false},
	} {
		addr, ok := buildkit.ParseAddress(tc.in)
		assert.Equal(t, tc.ok, ok, tc.in)
		assert.Equal(t, tc.addr, addr, tc.in)
	}
}

// An ECR token from the SDK (GetAuthorizationToken, SigV4-checked by the
// stand-in) is what the daemon pulls and pushes with: the registry accepts
// only user AWS with the token's password, and the daemon has no credentials.
func TestECRTokenThroughSession(t *testing.T) {
	const password = "ecr-token-password-for-tests"
	reg := testregistry.Start(t, testregistry.Options{Username: "AWS", Password: password})
	fake := fakeecr.Start(t, fakeecr.Options{Upstream: reg.URL(), UpstreamTransport: reg.Transport(), Password: password})
	fake.Setenv(t)
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no docker credentials to fall back on
	daemon := testbuildkit.Start(t)
	ropts := registry.Options{RegistryAuth: registry.AuthECR, Region: "us-east-1"}

	idx, err := basegen.Index()
	require.NoError(t, err)
	tag, err := name.NewTag(reg.Host + "/ecr/base:latest")
	require.NoError(t, err)
	require.NoError(t, remote.WriteIndex(tag, idx, remote.WithAuthFromKeychain(registry.NewKeychain(ropts))))

	res, err := buildkit.Build(context.Background(), spec(t, tag.String(), "1"), buildkit.Options{
		Address: daemon.Address, Tags: []string{reg.Host + "/ecr/fn:v1"},
		Build: build.Options{CacheDir: t.TempDir(), Registry: ropts},
	})
	require.NoError(t, err)
	assert.Contains(t, fake.Calls(), "GetAuthorizationToken")
	assert.Zero(t, fake.BadSignatures())
	r, err := name.ParseReference(res.References[0])
	require.NoError(t, err)
	_, err = remote.Get(r, remote.WithAuthFromKeychain(registry.NewKeychain(ropts)))
	require.NoError(t, err)
}
