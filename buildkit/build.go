package buildkit

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	bkclient "github.com/moby/buildkit/client"
	"github.com/moby/buildkit/client/llb"
	"github.com/moby/buildkit/exporter/containerimage/exptypes"
	"github.com/moby/buildkit/session"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/registry"
)

// Scheme prefixes a builder address that names a BuildKit daemon
// (buildkit://unix:///run/buildkit/buildkitd.sock); what follows is any
// address BuildKit's client accepts.
const Scheme = "buildkit://"

// HostEnv is BuildKit's own variable for the daemon address.
const HostEnv = "BUILDKIT_HOST"

// Options are how to build on a daemon.
type Options struct {
	// Address is the daemon's address as BuildKit's client takes it:
	// unix://PATH, tcp://HOST:PORT, docker-container://NAME,
	// kube-pod://NAME, ...
	Address string
	// Tags are the references the daemon pushes the image to (at least one).
	Tags []string
	// Build configures the in-process half: cache, base fetching, events.
	// Its Registry.Keychain (the default chain if nil) also answers the
	// daemon's credential requests.
	Build build.Options
	// ExporterAttrs are extra image exporter attributes
	// (compression-level, registry.insecure, ...). Attestation requests
	// and the attributes this package sets itself are refused.
	ExporterAttrs map[string]string
	// Events receives the daemon's progress; nil discards.
	Events func(Event)
}

// Result is an image built and pushed by the daemon.
type Result struct {
	// Build is the in-process build's result: the layers (with the digests
	// the pushed image has), findings, warnings. Its Image is closed.
	Build *build.Result
	// Digest, MediaType and ManifestSize describe the manifest the daemon
	// pushed. Its config is the build's, serialised by the daemon, so the
	// digest may differ from Build.Digest while every layer is the same.
	Digest       v1.Hash
	MediaType    types.MediaType
	ManifestSize int64
	// References are REPO@sha256:... for each tag.
	References []string
	// Steps are the daemon's steps as its status stream reported them.
	Steps []Step
}

// Cached counts the steps the daemon served from its cache.
func (r *Result) Cached() int {
	n := 0
	for _, s := range r.Steps {
		if s.Cached {
			n++
		}
	}
	return n
}

// ParseAddress returns the daemon address in a builder address
// ("buildkit://ADDR"), and false for any other builder.
func ParseAddress(builder string) (string, bool) {
	addr, ok := strings.CutPrefix(builder, Scheme)
	if !ok || addr == "" {
		return "", false
	}
	return addr, true
}

// attrs the backend sets itself: changing them would break the Lambda
// guarantees (one manifest, gzip, the computed config) or the push.
var ownAttrs = map[string]bool{
	"name": true, "push": true, "oci-mediatypes": true, "compression": true,
	"force-compression": true, exptypes.ExporterImageConfigKey: true,
	"unpack": true, "store": true,
}

// checkAttrs refuses exporter attributes that would make an image Lambda
// cannot run.
func checkAttrs(attrs map[string]string) error {
	for k := range attrs {
		switch {
		case strings.HasPrefix(k, "attest:") || strings.HasPrefix(k, "attestation"):
			return fmt.Errorf("buildkit: exporter attribute %q: attestations are refused: they turn the image into an index, which Lambda rejects", k)
		case ownAttrs[k]:
			return fmt.Errorf("buildkit: exporter attribute %q is set by lambda-oci (one gzip manifest in the base's family, the computed config, pushed)", k)
		}
	}
	return nil
}

// Build checks that the daemon answers, builds and checks the spec
// in-process, then has the daemon assemble and push the same image. A
// refused image is the same error build.Build returns; nothing is pushed.
func Build(ctx context.Context, spec build.Spec, opts Options) (*Result, error) {
	if opts.Address == "" {
		return nil, errors.New("buildkit: no daemon address")
	}
	if len(opts.Tags) == 0 {
		return nil, errors.New("buildkit: no image reference to push to: the daemon's result is a pushed image")
	}
	for _, t := range opts.Tags {
		if _, err := name.NewTag(t); err != nil {
			return nil, fmt.Errorf("buildkit: image reference %q: %w", t, err)
		}
	}
	if err := checkAttrs(opts.ExporterAttrs); err != nil {
		return nil, err
	}
	c, err := connect(ctx, opts.Address)
	if err != nil {
		return nil, err
	}
	defer c.Close()

	if opts.Build.Registry.Keychain == nil {
		// One keychain for both halves: ECR tokens are fetched once.
		opts.Build.Registry.Keychain = registry.NewKeychain(opts.Build.Registry)
	}
	res, err := build.Build(ctx, spec, opts.Build)
	if err != nil {
		return nil, err
	}
	defer res.Close()

	store := newBlobStore()
	def, err := definition(ctx, spec, res, store)
	if err != nil {
		return nil, err
	}
	attrs, err := exporterAttrs(res, opts)
	if err != nil {
		return nil, err
	}
	out := &Result{Build: res}
	tr := newTracker(opts.Events)
	ch := make(chan *bkclient.SolveStatus)
	var resp *bkclient.SolveResponse
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		var err error
		resp, err = c.Solve(gctx, def, bkclient.SolveOpt{
			Exports:   []bkclient.ExportEntry{{Type: bkclient.ExporterImage, Attrs: attrs}},
			OCIStores: map[string]content.Store{storeID: store},
			Session:   []session.Attachable{authProvider(opts.Build.Registry.Keychain)},
		}, ch)
		if err != nil {
			// BuildKit's own words say what failed on the daemon.
			return fmt.Errorf("buildkit: build on %s: %w", opts.Address, err)
		}
		return nil
	})
	g.Go(func() error {
		for s := range ch {
			tr.update(s)
		}
		return nil
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	out.Steps = tr.steps()
	if err := out.describe(resp, opts.Tags); err != nil {
		return nil, err
	}
	return out, nil
}

// connect returns a client for a daemon that answers, or an error naming
// the address: BuildKit's client dials lazily, so a wrong address would
// otherwise surface only after the in-process build.
func connect(ctx context.Context, addr string) (*bkclient.Client, error) {
	c, err := bkclient.New(ctx, addr)
	if err != nil {
		return nil, fmt.Errorf("buildkit: daemon %s: %w", addr, err)
	}
	ictx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := c.Info(ictx); err != nil {
		c.Close()
		return nil, fmt.Errorf("buildkit: daemon %s is not reachable: %w", addr, err)
	}
	return c, nil
}

// storeID names the session's OCI store in the LLB sources.
const storeID = "lambda-oci"

// definition compiles the built image to LLB: the base, then one merge
// input per added layer, each the blob the in-process build made.
func definition(ctx context.Context, spec build.Spec, res *build.Result, store *blobStore) (*llb.Definition, error) {
	platform := ocispecs.Platform{OS: res.Platform.OS, Architecture: res.Platform.Architecture, Variant: res.Platform.Variant}
	base, err := baseState(spec, res, store, platform)
	if err != nil {
		return nil, err
	}
	added, err := res.AddedLayers()
	if err != nil {
		return nil, err
	}
	states := []llb.State{base}
	for i, l := range added {
		d, err := store.addLayersImage([]v1.Layer{l}, res.MediaType, res.Platform)
		if err != nil {
			return nil, fmt.Errorf("buildkit: layer %d: %w", i+1, err)
		}
		info := res.Layers[len(res.Layers)-len(added)+i]
		states = append(states, llb.OCILayout(storeID+"/layer@"+d.String(),
			llb.OCIStore("", storeID), llb.Platform(platform),
			llb.WithCustomNamef("%s %s", info.Kind, info.Source)))
	}
	def, err := llb.Merge(states, llb.WithCustomName("stack the layers on the base")).Marshal(ctx, llb.Platform(platform))
	if err != nil {
		return nil, fmt.Errorf("buildkit: compiling LLB: %w", err)
	}
	return def, nil
}

// baseState is a registry base pulled by the daemon itself, pinned to the
// platform manifest the build checked (so its blobs need not pass through
// this process, and can be mounted across repositories on push); any other
// base (an OCI layout, an image in hand) goes through the session.
func baseState(spec build.Spec, res *build.Result, store *blobStore, platform ocispecs.Platform) (llb.State, error) {
	if spec.BaseImage == nil && res.Base != "" && !strings.HasPrefix(res.Base, registry.LayoutPrefix) {
		ref, err := name.ParseReference(res.Base)
		if err != nil {
			return llb.State{}, fmt.Errorf("buildkit: base %s: %w", res.Base, err)
		}
		pinned := ref.Context().Digest(res.BaseDigest.String()).String()
		return llb.Image(pinned, llb.Platform(platform), llb.WithCustomNamef("base %s", res.Base)), nil
	}
	layers, err := res.BaseLayers()
	if err != nil {
		return llb.State{}, err
	}
	if len(layers) == 0 {
		return llb.Scratch(), nil
	}
	d, err := store.addLayersImage(layers, res.MediaType, res.Platform)
	if err != nil {
		return llb.State{}, fmt.Errorf("buildkit: base %s: %w", res.Base, err)
	}
	return llb.OCILayout(storeID+"/base@"+d.String(), llb.OCIStore("", storeID), llb.Platform(platform),
		llb.WithCustomNamef("base %s", res.Base)), nil
}

// exporterAttrs are the image exporter's settings for a Lambda image.
func exporterAttrs(res *build.Result, opts Options) (map[string]string, error) {
	cfg, err := res.Image.RawConfigFile()
	if err != nil {
		return nil, fmt.Errorf("buildkit: computed config: %w", err)
	}
	attrs := map[string]string{}
	for k, v := range opts.ExporterAttrs {
		attrs[k] = v
	}
	attrs["name"] = strings.Join(opts.Tags, ",")
	attrs["push"] = "true"
	// One manifest in the base's family; Lambda takes either, not a mix.
	attrs["oci-mediatypes"] = fmt.Sprint(res.MediaType == types.OCIManifestSchema1)
	// gzip without force-compression: blobs that are gzip already (the
	// base's, ours) are pushed as they are, never re-compressed.
	attrs["compression"] = "gzip"
	// The exporter replaces the config with this one, filling in only
	// rootfs (the same diffIDs) and history it lacks (none).
	attrs[exptypes.ExporterImageConfigKey] = string(cfg)
	return attrs, nil
}

// describe reads the pushed manifest's descriptor from the exporter's
// response.
func (r *Result) describe(resp *bkclient.SolveResponse, tags []string) error {
	if resp == nil {
		return errors.New("buildkit: no response from the daemon")
	}
	dg := resp.ExporterResponse[exptypes.ExporterImageDigestKey]
	h, err := v1.NewHash(dg)
	if err != nil {
		return fmt.Errorf("buildkit: daemon's image digest %q: %w", dg, err)
	}
	r.Digest = h
	if enc := resp.ExporterResponse[exptypes.ExporterImageDescriptorKey]; enc != "" {
		raw, err := base64.StdEncoding.DecodeString(enc)
		if err != nil {
			return fmt.Errorf("buildkit: daemon's image descriptor: %w", err)
		}
		var d ocispecs.Descriptor
		if err := json.Unmarshal(raw, &d); err != nil {
			return fmt.Errorf("buildkit: daemon's image descriptor: %w", err)
		}
		r.MediaType, r.ManifestSize = types.MediaType(d.MediaType), d.Size
	}
	seen := map[string]bool{}
	for _, t := range tags {
		tag, err := name.NewTag(t)
		if err != nil {
			return fmt.Errorf("buildkit: image reference %q: %w", t, err)
		}
		ref := tag.Context().Digest(h.String()).String()
		if !seen[ref] {
			seen[ref] = true
			r.References = append(r.References, ref)
		}
	}
	sort.Strings(r.References)
	return nil
}
