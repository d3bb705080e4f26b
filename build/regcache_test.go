package build

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// cacheRun is one build as a fresh CI runner does it: an empty cache
// directory, its own Shared to count the work, the events kept.
type cacheRun struct {
	res    *Result
	err    error
	stats  SharedStats
	events []string
}

func (r cacheRun) said(sub string) bool {
	for _, e := range r.events {
		if strings.Contains(e, sub) {
			return true
		}
	}
	return false
}

// freshPublish builds spec on an empty cache and publishes it to tags
// (cacheFrom nil: Publish's default, the tags).
func freshPublish(t *testing.T, spec Spec, cacheFrom []string, tags ...string) cacheRun {
	t.Helper()
	return freshPublishWith(t, spec, Options{CacheFrom: cacheFrom}, tags...)
}

// freshPublishWith is freshPublish with more options (its cache, Shared
// and events are set here).
func freshPublishWith(t *testing.T, spec Spec, opts Options, tags ...string) cacheRun {
	t.Helper()
	shared := NewShared()
	defer shared.Close()
	var mu sync.Mutex
	var run cacheRun
	opts.CacheDir, opts.Shared = t.TempDir(), shared
	opts.Events = func(e Event) {
		mu.Lock()
		defer mu.Unlock()
		run.events = append(run.events, e.Message)
	}
	run.res, _, run.err = Publish(context.Background(), spec, publish.Registry(tags, registry.Options{Quiet: true}), opts)
	run.stats = shared.Stats()
	return run
}

// coldDigest is the digest of spec built with no cache of any kind.
func coldDigest(t *testing.T, spec Spec) v1.Hash {
	t.Helper()
	res, err := Build(context.Background(), spec, Options{NoCacheFrom: true})
	require.NoError(t, err)
	defer res.Close()
	return res.Digest
}

// layerGets are the downloads, in requests, of res's layers (base
// included; config blobs are small and read on purpose).
func layerGets(res *Result, reqs []testregistry.Request) []string {
	var out []string
	for _, r := range reqs {
		for _, l := range res.Layers {
			if r.Method == "GET" && strings.HasSuffix(r.Path, "/blobs/"+l.Digest.String()) {
				out = append(out, r.Path)
			}
		}
	}
	return out
}

// cacheSpec is the demo build on a base in reg, its code a directory
// holding app.py with body.
func cacheSpec(t *testing.T, reg *testregistry.Server, base v1.Image, runtime, handler string, code ...basegen.File) Spec {
	t.Helper()
	ref := reg.Host + "/base/lambda:1"
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	require.NoError(t, remote.Write(r, base))
	return Spec{
		Base: ref, Arch: "x86_64", Runtime: runtime, Handler: handler, Created: fixedTime,
		Layers: []Source{{Path: writeZip(t, "layer.zip", basegen.DemoLayerFiles()...), Name: "layer.zip"}},
		Code:   Source{Path: writeDir(t, code...), Name: "code"},
	}
}

// A runner with an empty cache, whose target holds the previous image,
// converts only what changed and downloads no blob — not the base's, not
// the recorded layers' — and its image is the one a cold build makes.
func TestRegistryCacheReusesRecordedLayers(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	for _, tc := range []struct {
		name, runtime, handler string
		base                   func(*testing.T) v1.Image
		code, edited           []basegen.File
	}{
		{name: "python", runtime: "python3.12", handler: "app.handler",
			base:   func(t *testing.T) v1.Image { return baseImage(t, "x86_64") },
			code:   []basegen.File{f("app.py", 0o644, "def handler(e, c):\n    return 1\n")},
			edited: []basegen.File{f("app.py", 0o644, "def handler(e, c):\n    return 2\n")}},
		// A custom runtime on a base without /var/runtime/bootstrap: the
		// link layer depends on the base, which the reusing build does
		// not list (the label says whether it has one).
		{name: "custom runtime", runtime: "provided.al2023", handler: "fn",
			base:   func(t *testing.T) v1.Image { return withoutBootstrap(t, baseImage(t, "x86_64")) },
			code:   []basegen.File{f("bootstrap", 0o755, "#!/bin/sh\n")},
			edited: []basegen.File{f("bootstrap", 0o755, "#!/bin/sh\necho 2\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := cacheSpec(t, reg, tc.base(t), tc.runtime, tc.handler, tc.code...)
			repo := reg.Host + "/" + strings.ReplaceAll(tc.name, " ", "-")

			first := freshPublish(t, spec, nil, repo+":v1")
			require.NoError(t, first.err)
			require.True(t, first.said("no image at "+repo+":v1"), first.events)
			require.Equal(t, int64(2), first.stats.Conversions)

			// Nothing changed: nothing converted, nothing downloaded.
			before := len(reg.Requests(t))
			again := freshPublish(t, spec, nil, repo+":v1")
			require.NoError(t, again.err)
			require.Empty(t, layerGets(again.res, reg.Requests(t)[before:]), again.events)
			require.Equal(t, int64(0), again.stats.Conversions)
			require.Equal(t, int64(0), again.stats.BaseLayerMeasures)
			require.Equal(t, first.res.Digest, again.res.Digest)
			for _, l := range again.res.Layers {
				if l.Kind != kindBase && l.Kind != kindBootstrap {
					require.Equal(t, repo+":v1", l.Reused, l.Source)
				}
			}

			// The code changed: only the code is converted, and the image
			// is the cold build's.
			edited := spec
			edited.Code = Source{Path: writeDir(t, tc.edited...), Name: "code"}
			before = len(reg.Requests(t))
			next := freshPublish(t, edited, []string{repo + ":v1"}, repo+":v2")
			require.NoError(t, next.err)
			require.Empty(t, layerGets(next.res, reg.Requests(t)[before:]), next.events)
			require.Equal(t, int64(1), next.stats.Conversions)
			require.Equal(t, int64(0), next.stats.BaseLayerMeasures)
			require.Equal(t, coldDigest(t, edited), next.res.Digest)

			// What was pushed is whole: every blob there and matching.
			r, err := name.ParseReference(repo + ":v2")
			require.NoError(t, err)
			pushed, err := remote.Image(r)
			require.NoError(t, err)
			require.NoError(t, validate.Image(pushed))
		})
	}
}

// relabel is img with its provenance label rewritten by edit.
func relabel(t *testing.T, img v1.Image, edit func(*image.Provenance)) v1.Image {
	t.Helper()
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	prov, err := image.ReadProvenance(cf)
	require.NoError(t, err)
	edit(prov)
	cf = cf.DeepCopy()
	cf.Config.Labels, err = image.WithProvenance(cf.Config.Labels, prov)
	require.NoError(t, err)
	out, err := mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	return out
}

// A previous image whose label does not match it, or whose blob is gone,
// is not used for what does not hold: the build converts, and its image is
// the cold build's.
func TestRegistryCacheLyingLabels(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	spec := cacheSpec(t, reg, baseImage(t, "x86_64"), "python3.12", "app.handler", f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))
	first := freshPublish(t, spec, nil, reg.Host+"/fn:v1")
	require.NoError(t, first.err)
	want := coldDigest(t, spec)
	require.Equal(t, want, first.res.Digest)
	prevRef, err := name.ParseReference(reg.Host + "/fn:v1")
	require.NoError(t, err)
	prev, err := remote.Image(prevRef)
	require.NoError(t, err)
	nb := len(first.res.Provenance.Base.Layers)
	other := "sha256:" + strings.Repeat("0", 64)

	for _, tc := range []struct {
		name string
		img  func() v1.Image
		// gone deletes the recorded layer blob from the repository.
		gone bool
		said string
	}{
		{name: "wrong digest", said: "the label says " + other,
			img: func() v1.Image { return relabel(t, prev, func(p *image.Provenance) { p.Layers[0].Digest = other }) }},
		{name: "diffID mismatch", said: "the label says diffID " + other,
			img: func() v1.Image { return relabel(t, prev, func(p *image.Provenance) { p.Layers[0].DiffID = other }) }},
		{name: "base layer wrong", said: "base layer 1: the label says " + other,
			img: func() v1.Image {
				return relabel(t, prev, func(p *image.Provenance) { p.Base.Layers[0].Digest = other })
			}},
		{name: "blob absent", gone: true, said: "absent; converting",
			img: func() v1.Image { return prev }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			repo := reg.Host + "/liar-" + strings.ToLower(strings.ReplaceAll(tc.name, " ", "-"))
			r, err := name.ParseReference(repo + ":v1")
			require.NoError(t, err)
			require.NoError(t, remote.Write(r, tc.img()))
			if tc.gone {
				req := r.Context().Digest(first.res.Layers[nb].Digest.String())
				require.NoError(t, remote.Delete(req))
			}
			run := freshPublish(t, spec, []string{repo + ":v1"}, reg.Host+"/out:"+strings.ToLower(strings.ReplaceAll(tc.name, " ", "-")))
			require.NoError(t, run.err)
			require.True(t, run.said(tc.said), run.events)
			require.Equal(t, want, run.res.Digest)
			require.NotZero(t, run.stats.Conversions)
		})
	}
}

// --cache-from another repository: the recorded layers are reused and
// mounted into the target, which ends up with every blob; from another
// registry they are copied.
func TestRegistryCacheAcrossRepositories(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	spec := cacheSpec(t, reg, baseImage(t, "x86_64"), "python3.12", "app.handler", f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))
	first := freshPublish(t, spec, nil, reg.Host+"/team-a/fn:main")
	require.NoError(t, first.err)

	run := freshPublish(t, spec, []string{reg.Host + "/team-a/fn:main"}, reg.Host+"/team-b/fn:v1")
	require.NoError(t, run.err)
	require.Equal(t, int64(0), run.stats.Conversions)
	require.Equal(t, first.res.Digest, run.res.Digest)
	r, err := name.ParseReference(reg.Host + "/team-b/fn:v1")
	require.NoError(t, err)
	pushed, err := remote.Image(r)
	require.NoError(t, err)
	require.NoError(t, validate.Image(pushed))

	// Another registry: the recorded blobs are copied from the cache's
	// registry (read once each), not converted.
	other := testregistry.Start(t, testregistry.Options{})
	run = freshPublish(t, spec, []string{reg.Host + "/team-a/fn:main"}, other.Host+"/fn:v1")
	require.NoError(t, run.err)
	require.Equal(t, int64(0), run.stats.Conversions)
	require.Equal(t, first.res.Digest, run.res.Digest)
	r, err = name.ParseReference(other.Host + "/fn:v1")
	require.NoError(t, err)
	pushed, err = remote.Image(r)
	require.NoError(t, err)
	require.NoError(t, validate.Image(pushed))
}

// A build the rules refuse while it reuses recorded layers is built again
// from complete listings, reports the refusal from them, and pushes
// nothing: no manifest, no tag.
func TestRegistryCacheRefusedBuild(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	spec := cacheSpec(t, reg, baseImage(t, "x86_64"), "python3.12", "app.handler", f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))
	first := freshPublish(t, spec, nil, reg.Host+"/fn:v1")
	require.NoError(t, first.err)

	bad := spec
	bad.Handler = "missing.handler"
	run := freshPublish(t, bad, []string{reg.Host + "/fn:v1"}, reg.Host+"/fn:bad")
	var cerr *checks.Error
	require.ErrorAs(t, run.err, &cerr)
	require.Equal(t, checks.RuleHandler, cerr.Findings[0].Rule)
	require.True(t, run.said("building without the registry cache"), run.events)
	require.NotZero(t, run.stats.BaseLayerMeasures, "the refusal comes from listed layers")

	r, err := name.ParseReference(reg.Host + "/fn:bad")
	require.NoError(t, err)
	_, err = remote.Head(r)
	require.Error(t, err, "no tag for a refused build")
	tags, err := remote.List(r.Context())
	require.NoError(t, err)
	require.Equal(t, []string{"v1"}, tags)
}

// A fleet on a fresh runner: each function reads its own tags (or the
// Target's CacheFrom) and converts nothing that did not change; the shared
// layer zip is reused from either function's image.
func TestRegistryCacheFleet(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	spec := cacheSpec(t, reg, baseImage(t, "x86_64"), "python3.12", "app.handler", f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))
	other := spec
	other.Code = Source{Path: writeDir(t, f("other.py", 0o644, "def handler(e, c):\n    return 2\n")), Name: "code"}
	other.Handler = "other.handler"
	targets := func(cacheFrom []string) []Target {
		return []Target{
			{Name: "a", Spec: spec, Publisher: publish.Registry([]string{reg.Host + "/fleet/a:main"}, registry.Options{Quiet: true})},
			{Name: "b", Spec: other, Publisher: publish.Registry([]string{reg.Host + "/fleet/b:v2"}, registry.Options{Quiet: true}), CacheFrom: cacheFrom},
		}
	}
	publishFleet := func(ts []Target) ([]TargetResult, SharedStats) {
		shared := NewShared()
		defer shared.Close()
		res, err := PublishFleet(context.Background(), ts, FleetOptions{Jobs: 2, Options: Options{CacheDir: t.TempDir(), Shared: shared}})
		require.NoError(t, err)
		return res, shared.Stats()
	}
	first, st := publishFleet(targets([]string{}))
	require.Equal(t, int64(3), st.Conversions, "the shared zip once, two codes")

	// b's tag is new: its cache is a's image, which shares the layer zip
	// but not the code.
	again, st := publishFleet(targets([]string{reg.Host + "/fleet/a:main"}))
	require.Equal(t, int64(1), st.Conversions, "b's code only")
	require.Equal(t, int64(0), st.BaseLayerMeasures)
	for i := range first {
		require.Equal(t, first[i].Result.Digest, again[i].Result.Digest, first[i].Name)
	}
}

// A layer version reused without its zip: nothing downloaded when the
// base has its own bootstrap; when it has none and the version carries
// /opt/bootstrap (a custom runtime layer), which file the image links
// needs the version's names, so the build fetches them — and its image is
// the cold build's either way.
func TestRegistryCacheLayerVersions(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	fake := fakelambda.New(t, fakelambda.Options{})
	const arn = "arn:aws:lambda:us-east-1:123456789012:layer:runtime:3"
	fake.AddLayer(fakelambda.Layer{ARN: arn, Zip: testutil.Zip(t, f("bootstrap", 0o755, "#!/bin/sh\n"), f("python/lib.py", 0o644, "X = 1\n"))})
	lopts := lambdaapi.Options{Endpoint: fake.URL, Credentials: fake.Credentials(), Region: "us-east-1"}

	for _, tc := range []struct {
		name, runtime, handler string
		base                   v1.Image
		code                   basegen.File
		downloads              int // by the build on the empty cache
	}{
		{"base with a bootstrap", "python3.12", "app.handler", baseImage(t, "x86_64"), f("app.py", 0o644, "def handler(e, c):\n    return 1\n"), 0},
		{"bootstrap from the layer", "provided.al2023", "fn", withoutBootstrap(t, baseImage(t, "x86_64")), f("README", 0o644, "fn\n"), 1},
		// No rule would notice a missing link here: only the guard does.
		{"layer bootstrap linked for python", "python3.12", "app.handler", withoutBootstrap(t, baseImage(t, "x86_64")), f("app.py", 0o644, "def handler(e, c):\n    return 1\n"), 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := cacheSpec(t, reg, tc.base, tc.runtime, tc.handler, tc.code)
			spec.Layers = []Source{{Path: arn}}
			tag := reg.Host + "/" + strings.ReplaceAll(tc.name, " ", "-") + ":main"
			first := freshPublishWith(t, spec, Options{Lambda: lopts, NoCacheFrom: true}, tag)
			require.NoError(t, first.err)
			before := fake.Downloads()

			again := freshPublishWith(t, spec, Options{Lambda: lopts}, tag)
			require.NoError(t, again.err)
			require.Equal(t, tc.downloads, fake.Downloads()-before, again.events)
			require.Equal(t, first.res.Digest, again.res.Digest)
		})
	}
}
