package build

import (
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/faultproxy"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// bigLayerSize is the base's large layer: incompressible, so its blob is
// this big and streams through the tee in many reads.
const bigLayerSize = 2 << 20

// overlap is a base in one docker-registry (src, whose access log counts
// the base's blob downloads) and a spec on it, pushed to another (dst).
type overlap struct {
	src, dst *testregistry.Server
	base     string    // src/base:1
	blobs    []v1.Hash // the base's layers
	big      v1.Hash   // the large one
	spec     Spec
}

func startOverlap(t *testing.T) *overlap {
	t.Helper()
	o := &overlap{src: testregistry.Start(t, testregistry.Options{}), dst: testregistry.Start(t, testregistry.Options{})}
	rnd := rand.New(rand.NewPCG(1, 2))
	noise := make([]byte, bigLayerSize)
	for i := range noise {
		noise[i] = byte(rnd.Uint32())
	}
	img := appendLayer(t, baseImage(t, "x86_64"), d("usr/"), d("usr/lib/"), f("usr/lib/noise.bin", 0o644, string(noise)))
	o.base = o.src.Host + "/base:1"
	_, err := registry.Push(context.Background(), img, []string{o.base}, registry.Options{})
	require.NoError(t, err)
	ls, err := img.Layers()
	require.NoError(t, err)
	for _, l := range ls {
		dg, err := l.Digest()
		require.NoError(t, err)
		sz, err := l.Size()
		require.NoError(t, err)
		o.blobs = append(o.blobs, dg)
		if sz > bigLayerSize {
			o.big = dg
		}
	}
	require.NotEmpty(t, o.big.Hex)
	o.spec = Spec{
		Base: o.base, Runtime: "python3.12", Arch: "x86_64", Handler: "app.handler", Created: fixedTime,
		Layers: []Source{{Path: writeZip(t, "layer.zip", basegen.DemoLayerFiles()...)}},
		Code:   Source{Path: writeDir(t, f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))},
	}
	return o
}

// baseGETs counts, per base blob, the downloads src served since the
// first skip requests.
func (o *overlap) baseGETs(t *testing.T, skip int) (map[v1.Hash]int, int) {
	t.Helper()
	reqs := o.src.Requests(t)
	out := map[v1.Hash]int{}
	for _, r := range reqs[skip:] {
		for _, b := range o.blobs {
			if r.Method == http.MethodGet && strings.HasSuffix(r.Path, "/blobs/"+b.String()) {
				out[b]++
			}
		}
	}
	return out, len(reqs)
}

// layoutDigest is the digest of the same build written to an OCI layout.
func layoutDigest(t *testing.T, spec Spec) (v1.Hash, *Result) {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "layout")
	res, _, err := Publish(context.Background(), spec, publish.Layout(dir, "localhost/fn:1"), Options{CacheDir: t.TempDir()})
	require.NoError(t, err)
	idx, err := layout.ImageIndexFromPath(dir)
	require.NoError(t, err)
	m, err := idx.IndexManifest()
	require.NoError(t, err)
	require.Len(t, m.Manifests, 1)
	assert.Equal(t, res.Digest, m.Manifests[0].Digest)
	return res.Digest, res
}

// pulled reads an image back from a registry and validates every blob.
func pulled(t *testing.T, ref string) v1.Hash {
	t.Helper()
	img, err := remote.Image(mustRef(t, ref))
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
	dg, err := img.Digest()
	require.NoError(t, err)
	return dg
}

func mustRef(t *testing.T, ref string) name.Reference {
	t.Helper()
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	return r
}

// A cold build pushed to another registry downloads each base blob once:
// the one download feeds the listing and the upload. So does a build
// whose listings are cached (the upload reads alone), one whose target
// already holds the blobs (the listing reads alone) and one pushing into
// the base's own registry (blobs mounted, the listing reads alone). Every
// pushed image is complete and is the image the same build writes to an
// OCI layout.
func TestPublishReadsBaseBlobsOnce(t *testing.T) {
	o := startOverlap(t)
	want, _ := layoutDigest(t, o.spec)
	shared := t.TempDir()
	_, seen := o.baseGETs(t, 0)
	for _, tc := range []struct {
		name   string
		ref    string
		cache  string // "" for a fresh one
		status string // of the base layers
	}{
		{"cold", o.dst.Host + "/cold/fn:1", shared, registry.StatusPushed},
		{"listings cached", o.dst.Host + "/cached/fn:1", shared, registry.StatusPushed},
		{"blobs in the target", o.dst.Host + "/cold/fn:2", "", registry.StatusExists},
		{"target in the base's registry", o.src.Host + "/fn:1", "", registry.StatusMounted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cache := tc.cache
			if cache == "" {
				cache = t.TempDir()
			}
			res, pub, err := Publish(context.Background(), o.spec, publish.Registry([]string{tc.ref}, registry.Options{}), Options{CacheDir: cache})
			require.NoError(t, err)
			assert.Equal(t, want, res.Digest, "the image an OCI layout gets")
			var gets map[v1.Hash]int
			gets, seen = o.baseGETs(t, seen)
			for _, b := range o.blobs {
				assert.Equal(t, 1, gets[b], "base blob %s downloaded once", b)
			}
			require.NotNil(t, pub.Push)
			require.Len(t, pub.Push.Layers, len(res.Layers)+1)
			for i := range o.blobs {
				assert.Equal(t, tc.status, pub.Push.Layers[i].Status, "base layer %d", i)
			}
			assert.Equal(t, want, pulled(t, tc.ref))
		})
	}
}

// hangGuard fails the test instead of hanging it when f does not return.
func hangGuard(t *testing.T, f func()) {
	t.Helper()
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		buf := make([]byte, 1<<20)
		t.Fatalf("did not return; goroutines:\n%s", buf[:runtime.Stack(buf, true)])
	}
}

// manifests lists what docker-registry holds for repo: revisions (every
// manifest put, tagged or not) and tags, from its storage.
func manifests(t *testing.T, reg *testregistry.Server, repo string) []string {
	t.Helper()
	root := filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests")
	var out []string
	for _, sub := range []string{"revisions/sha256", "tags"} {
		ents, err := os.ReadDir(filepath.Join(root, sub))
		if err != nil {
			require.True(t, os.IsNotExist(err), err)
			continue
		}
		for _, e := range ents {
			out = append(out, sub+"/"+e.Name())
		}
	}
	return out
}

// gate proxies to reg, holding back the download of blob until open()
// says so (or a minute passed), so a build can be made to wait for
// something its uploads do.
func gate(t *testing.T, reg *testregistry.Server, blob v1.Hash, open func() bool) string {
	t.Helper()
	u, err := url.Parse(reg.URL())
	require.NoError(t, err)
	rp := httputil.NewSingleHostReverseProxy(u)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodGet && strings.HasSuffix(r.URL.Path, "/blobs/"+blob.String()) {
			for deadline := time.Now().Add(time.Minute); !open() && time.Now().Before(deadline); {
				time.Sleep(5 * time.Millisecond)
			}
		}
		rp.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// A refused build puts no manifest and no tag in the target, though its
// blobs were uploading while it ran (the base's large blob is held back
// until an upload has begun), and returns without waiting for uploads
// still in flight: in the last case every upload hangs in the registry.
func TestPublishRefusedPushesNoManifest(t *testing.T) {
	o := startOverlap(t)
	for _, tc := range []struct {
		name   string
		hang   bool
		edit   func(*Spec)
		refuse string // checks rule
	}{
		{"handler missing", false, func(s *Spec) { s.Handler = "main.handler" }, checks.RuleHandler},
		{"base over the max size", false, func(s *Spec) { s.MaxSize = bigLayerSize / 2 }, checks.RuleSize},
		{"uploads hanging", true, func(s *Spec) { s.Handler = "main.handler" }, checks.RuleHandler},
	} {
		t.Run(tc.name, func(t *testing.T) {
			target := faultproxy.Start(t, o.dst.URL(), http.DefaultTransport)
			if tc.hang {
				target.Add(faultproxy.Fault{Kind: faultproxy.Stall, Method: http.MethodPatch, StallFor: 5 * time.Minute})
			}
			uploading := func() bool {
				for _, r := range target.Requests() {
					if r.Method == http.MethodPatch {
						return true
					}
				}
				return false
			}
			spec := o.spec
			spec.Base = gate(t, o.src, o.big, uploading) + "/base:1"
			tc.edit(&spec)
			repo := "refused/" + strings.ReplaceAll(tc.name, " ", "-")
			var err error
			hangGuard(t, func() {
				_, _, err = Publish(context.Background(), spec, publish.Registry([]string{target.Host + "/" + repo + ":1"},
					registry.Options{RetryBaseDelay: time.Millisecond}), Options{CacheDir: t.TempDir()})
			})
			var cerr *checks.Error
			require.ErrorAs(t, err, &cerr)
			require.NotEmpty(t, cerr.Findings)
			assert.Equal(t, tc.refuse, cerr.Findings[0].Rule)
			assert.True(t, uploading(), "blobs were uploading while the build ran")
			assert.Empty(t, manifests(t, o.dst, repo), "no manifest, no tag")
			resp, err := o.dst.Client().Get(o.dst.URL() + "/v2/" + repo + "/tags/list")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no tag")
		})
	}
}

// An upload of the large base blob cut midway is retried from the spool
// (no second download), and the image and the listing come out as
// without the fault.
func TestPublishBaseUploadRetried(t *testing.T) {
	o := startOverlap(t)
	want, clean := layoutDigest(t, o.spec)
	p := faultproxy.Start(t, "http://"+o.dst.Host, http.DefaultTransport)
	p.Add(faultproxy.Fault{Kind: faultproxy.Reset, Method: http.MethodPatch, MinBody: bigLayerSize,
		ResetAfter: 256 << 10, Forward: true, Times: 1})
	_, seen := o.baseGETs(t, 0)
	ref := p.Host + "/retried/fn:1"
	res, pub, err := Publish(context.Background(), o.spec, publish.Registry([]string{ref},
		registry.Options{RetryBaseDelay: time.Millisecond}), Options{CacheDir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, 1, p.Hits(), "the fault hit the large blob's upload")
	patches := 0
	for _, r := range p.Requests() {
		if r.Method == http.MethodPatch {
			patches++
		}
	}
	assert.Equal(t, len(res.Layers)+2, patches, "every blob and the config once, the large blob twice")
	assert.Equal(t, want, res.Digest)
	assert.Equal(t, clean.Layers, res.Layers, "listings (sizes, diffIDs) as without the fault")
	assert.Equal(t, registry.StatusPushed, pub.Push.Layers[slices.Index(o.blobs, o.big)].Status)
	gets, _ := o.baseGETs(t, seen)
	for _, b := range o.blobs {
		assert.Equal(t, 1, gets[b], "downloads of %s", b)
	}
	assert.Equal(t, want, pulled(t, o.dst.Host+"/retried/fn:1"))
}

// ourGoroutines are the goroutines running this module's library code
// (not tests, not the test servers).
func ourGoroutines() []string {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		// Idle keep-alive connections (net/http's, until their timeout)
		// are not ours to end.
		if strings.Contains(g, "testing.tRunner") || strings.Contains(g, "lambda-oci/internal/") ||
			strings.Contains(g, "net/http.(*persistConn)") {
			continue
		}
		for _, pkg := range []string{"/build.", "/registry.", "/checks.", "/layerconv.", "/publish."} {
			if strings.Contains(g, "github.com/lambda-oci/lambda-oci"+pkg) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}

// Cancelling mid-build (as the base's first bytes are uploaded) returns
// context.Canceled, leaves no manifest and no goroutine behind.
func TestPublishCancelled(t *testing.T) {
	o := startOverlap(t)
	before := len(ourGoroutines())
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var once sync.Once
	ropts := registry.Options{Progress: func(e registry.ProgressEvent) {
		if e.Status == registry.ProgressRunning {
			once.Do(cancel)
		}
	}}
	var err error
	hangGuard(t, func() {
		_, _, err = Publish(ctx, o.spec, publish.Registry([]string{o.dst.Host + "/cancelled/fn:1"}, ropts), Options{CacheDir: t.TempDir()})
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Empty(t, manifests(t, o.dst, "cancelled/fn"))

	deadline := time.Now().Add(10 * time.Second)
	for len(ourGoroutines()) > before && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	assert.LessOrEqual(t, len(ourGoroutines()), before, "leaked:\n%s", strings.Join(ourGoroutines(), "\n\n"))
}
