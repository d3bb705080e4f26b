package build

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"path"
	"slices"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/layerconv"
	"github.com/lambda-oci/lambda-oci/registry"
)

// The registry as the cache. An image this tool pushed records in its
// provenance label, for every layer it added, the identity of the source
// and the layer it became, and the uncompressed size of every base layer.
// A build on a runner with an empty cache reads that label from a previous
// image (Options.CacheFrom: two small requests) and
//   - takes the base's sizes from it instead of downloading and measuring
//     the base, when the base is the same manifest;
//   - reuses a recorded layer instead of converting its input, when the
//     input has the same identity, the layer was made the same way (same
//     converter, creation time, task root, .pyc setting, code split, arch
//     waiver) and its blob is in the previous image's repository; a layer
//     version it holds is not even downloaded (resolveLayers).
//
// What the label says is only believed where the previous image itself
// agrees: every digest and diffID the label records must be the one its
// manifest and config have at that position, or the image is not used at
// all, so the image built here always declares the diffIDs of the blobs it
// references. Beyond that the label is trusted as far as the repository
// is: whoever can write it can push any image under the tag anyway.
//
// A recorded layer is not read: the rules that read layer bytes pass over
// it (the build that recorded it, same lambda-oci, ran them), while its
// names, types and modes, from the input's directory, keep the merged
// view whole for path lookups; the base's bootstrap and detected runtime
// family come from the label. If a rule then refuses the image, or the
// build needs what no record says (a family the base's files tell when
// the label does not; a bootstrap to link while a layer version's names
// are unknown), the build starts again without the cache, so a refusal is
// always reported from complete listings.

// errNeedListings: the build needs to look into a recorded layer.
var errNeedListings = errors.New("the registry cache's layers must be listed")

// prior is a previous image the label of which this build may use.
type prior struct {
	prev     *registry.Previous
	prov     *image.Provenance
	nBase    int // base layers in the manifest
	created  time.Time
	taskRoot string
}

// startPriors starts reading the previous images (once per Build: a second
// run reuses them, or not at all); priorsWait waits for them, emitting
// what was found.
func (b *builder) startPriors(ctx context.Context) {
	if b.priorsWait != nil {
		return
	}
	if b.noReuse || len(b.opts.CacheFrom) == 0 {
		b.priorsWait = func() {}
		return
	}
	done := make(chan struct{})
	var msgs []string
	go func() {
		defer close(done)
		b.priors, msgs = b.loadPriors(ctx)
	}()
	var once sync.Once
	b.priorsWait = func() {
		<-done
		once.Do(func() {
			for _, m := range msgs {
				b.info("%s", m)
			}
		})
	}
}

// recordsARN reports whether a previous image holds a layer made from the
// layer version arn (then its zip may not be needed).
func (b *builder) recordsARN(arn string) bool {
	if b.noReuse {
		return false
	}
	b.priorsWait()
	for _, p := range b.priors {
		for _, pl := range p.prov.Layers {
			if pl.ARN == arn {
				return true
			}
		}
	}
	return false
}

// loadPriors reads every Options.CacheFrom image, in parallel. An image
// that cannot be read or used is not an error — the build just does the
// work — but it is said (messages, in order, for the caller to emit).
func (b *builder) loadPriors(ctx context.Context) (out []*prior, messages []string) {
	refs := b.opts.CacheFrom
	ps := make([]*prior, len(refs))
	msgs := make([]string, len(refs))
	var wg sync.WaitGroup
	for i, ref := range refs {
		wg.Go(func() {
			p, err := b.loadPrior(ctx, ref)
			switch {
			case errors.Is(err, registry.ErrNoImage):
				msgs[i] = fmt.Sprintf("registry cache: no image at %s yet", ref)
			case err != nil:
				msgs[i] = fmt.Sprintf("registry cache: not using %s: %v", ref, err)
			default:
				ps[i] = p
				msgs[i] = fmt.Sprintf("registry cache: %s is %s", ref, p.prev.Digest)
			}
		})
	}
	wg.Wait()
	for _, p := range ps {
		if p != nil {
			out = append(out, p)
		}
	}
	return out, msgs
}

func (b *builder) loadPrior(ctx context.Context, ref string) (*prior, error) {
	prev, err := registry.FetchPrevious(ctx, ref, b.opts.Registry)
	if err != nil {
		return nil, err
	}
	prov, err := image.ReadProvenance(prev.Config)
	if err != nil {
		return nil, err
	}
	if prov == nil {
		return nil, errors.New("it has no provenance label (not built by lambda-oci)")
	}
	// Another version may check other rules, or convert differently.
	if want := builderName(b.opts.Version); prov.Builder != want {
		return nil, fmt.Errorf("built by %s, not %s", prov.Builder, want)
	}
	if want := converterFormat(); prov.Converter != want {
		return nil, fmt.Errorf("its layers were converted by %q, not %q", prov.Converter, want)
	}
	if err := labelMatches(prov, prev); err != nil {
		return nil, fmt.Errorf("its label does not match the image: %w", err)
	}
	tr, err := checks.TaskRoot(prev.Config)
	if err != nil {
		return nil, err
	}
	return &prior{prev: prev, prov: prov, nBase: len(prov.Base.Layers), created: prev.Config.Created.Time, taskRoot: tr}, nil
}

// labelMatches checks every digest and diffID the label records against
// the manifest's layers and the config's diff_ids.
func labelMatches(prov *image.Provenance, prev *registry.Previous) error {
	ls, ids := prev.Manifest.Layers, prev.Config.RootFS.DiffIDs
	n := len(prov.Base.Layers)
	if len(ls) != n+len(prov.Layers) || len(ids) != len(ls) {
		return fmt.Errorf("it records %d base and %d added layers; the manifest has %d layers, the config %d diff_ids",
			n, len(prov.Layers), len(ls), len(ids))
	}
	for i, bl := range prov.Base.Layers {
		if bl.Digest != ls[i].Digest.String() {
			return fmt.Errorf("base layer %d: the label says %s, the manifest %s", i+1, bl.Digest, ls[i].Digest)
		}
	}
	for j, pl := range prov.Layers {
		i := n + j
		if pl.Digest != ls[i].Digest.String() {
			return fmt.Errorf("layer %d: the label says %s, the manifest %s", i+1, pl.Digest, ls[i].Digest)
		}
		if pl.DiffID != ids[i].String() {
			return fmt.Errorf("layer %d: the label says diffID %s, the config %s", i+1, pl.DiffID, ids[i])
		}
	}
	return nil
}

// recordedBase is the base's layers as a prior records them, if one was
// built on this very base manifest; nil otherwise. A listing already in
// the local cache is used as it is: complete is better when it is free.
func (b *builder) recordedBase(reader checks.Reader, baseLayers []v1.Layer) ([]checks.Layer, *prior, error) {
	if b.noReuse {
		return nil, nil, nil
	}
	digests := make([]string, len(baseLayers))
	for i, l := range baseLayers {
		d, err := l.Digest()
		if err != nil {
			return nil, nil, fmt.Errorf("build: base layer %d: %w", i+1, err)
		}
		digests[i] = d.String()
	}
	for _, p := range b.priors {
		if p.prov.Base.Digest != b.res.BaseDigest.String() || len(p.prov.Base.Layers) != len(baseLayers) {
			continue
		}
		if !slices.EqualFunc(p.prov.Base.Layers, digests, func(bl image.ProvenanceBaseLayer, d string) bool { return bl.Digest == d }) {
			continue
		}
		out := make([]checks.Layer, len(baseLayers))
		for i, l := range baseLayers {
			cl, err := describeBase(l)
			if err != nil {
				return nil, nil, fmt.Errorf("build: base layer %d: %w", i+1, err)
			}
			if rec, ok := reader.Cached(cl.Digest); ok {
				cl.Listing = rec
			} else {
				cl.Listing = &checks.Listing{Recorded: true, UncompressedSize: p.prov.Base.Layers[i].Size, DiffID: cl.DiffID}
			}
			cl.Origin, cl.Kind, cl.Source = checks.Base, kindBase, b.baseName()
			out[i] = cl
		}
		return out, p, nil
	}
	return nil, nil, nil
}

// reuse returns the layers a prior recorded for the input, which this
// build would make as kinds (one layer, or a code split's two), or nil
// when no prior has them all.
func (b *builder) reuse(ctx context.Context, in input, prefix string, kinds []string) ([]*added, error) {
	if b.noReuse || len(b.priors) == 0 {
		return nil, nil
	}
	id, err := b.identify(ctx, in, "")
	if err != nil {
		return nil, fmt.Errorf("build: %s %q: %w", in.kind, in.Path, err)
	}
	for _, p := range b.priors {
		as := b.reuseFrom(p, in, id, kinds)
		if as == nil {
			continue
		}
		// The names of what the layers hold, read from the input's
		// directory (no content): the merged view the build and the
		// checks look up paths in (the handler, a bootstrap) is then
		// whole; only what files hold is missing.
		last := as[len(as)-1].listing
		if in.path == "" {
			// A layer version not downloaded: its names are not known
			// either (see unlisted).
			as[len(as)-1].unlisted = true
			logReuse(b, as, p)
			return as, nil
		}
		es, err := layerconv.List(ctx, in.path, layerconv.Options{Prefix: prefix, MaxSize: b.maxSize})
		if err != nil {
			return nil, fmt.Errorf("build: %s %q: %w", in.kind, in.Path, err)
		}
		for _, e := range es {
			ce := checks.Entry{Path: lambda.Rel(path.Join(prefix, e.Name)), Type: tar.TypeReg, Mode: e.Mode}
			switch {
			case e.Dir:
				ce.Type = tar.TypeDir
			case e.Symlink:
				ce.Type, ce.Link = tar.TypeSymlink, e.Target
			}
			last.Entries = append(last.Entries, ce)
		}
		logReuse(b, as, p)
		return as, nil
	}
	return nil, nil
}

func logReuse(b *builder, as []*added, p *prior) {
	for _, a := range as {
		b.info("registry cache: %s %s: layer %s from %s (not converted)", a.info.Kind, a.info.Source, a.info.Digest, p.prev.Ref)
	}
}

func (b *builder) reuseFrom(p *prior, in input, id sourceID, kinds []string) []*added {
	switch {
	case !p.created.Equal(b.created),
		p.prov.NoPycRewrite != b.spec.NoPycRewrite,
		p.prov.AllowArchMismatch && !b.spec.AllowArchMismatch,
		in.kind == kindCode && p.taskRoot != b.taskRoot:
		return nil
	}
	var idx []int
	for j, pl := range p.prov.Layers {
		if sameSource(pl, in, id) {
			idx = append(idx, j)
		}
	}
	if len(idx) != len(kinds) {
		return nil
	}
	var out []*added
	for k, j := range idx {
		pl, desc := p.prov.Layers[j], p.prev.Manifest.Layers[p.nBase+j]
		if pl.Kind != kinds[k] || desc.MediaType != b.fam.Layer || (k > 0 && j != idx[k-1]+1) {
			return nil
		}
		if ok, err := p.prev.HasBlob(desc.Digest); err != nil || !ok {
			why := "absent"
			if err != nil {
				why = err.Error()
			}
			b.info("%s", fmt.Sprintf("registry cache: %s %s: blob %s of %s %s; converting", in.kind, in.name(), desc.Digest, p.prev.Repo, why))
			return nil
		}
		diffID := p.prev.Config.RootFS.DiffIDs[p.nBase+j]
		layer, err := p.prev.Layer(desc, diffID)
		if err != nil {
			b.info("registry cache: %s %s: %v; converting", in.kind, in.name(), err)
			return nil
		}
		out = append(out, &added{
			id:      id,
			layer:   layer,
			listing: &checks.Listing{Recorded: true, UncompressedSize: pl.Size, DiffID: diffID},
			info: LayerInfo{
				Digest: desc.Digest, DiffID: diffID, MediaType: desc.MediaType, Size: desc.Size, UncompressedSize: pl.Size,
				Source: in.name(), Kind: pl.Kind, Path: in.path, ARN: in.arn, CodeSha256: in.codeSha256,
				Reused: p.prev.Ref,
			},
		})
	}
	return out
}

// sameSource reports whether a recorded layer was made from the input.
func sameSource(pl image.ProvenanceLayer, in input, id sourceID) bool {
	if (in.kind == kindCode) != (pl.Kind == kindCode || pl.Kind == kindCodeDeps) {
		return false
	}
	switch {
	case in.arn != "":
		return pl.ARN == in.arn && pl.CodeSha256 == in.codeSha256
	case id.sha256 != "":
		return pl.SHA256 == id.sha256
	case id.tree != "":
		return pl.Tree == id.tree
	}
	return false
}

// hasRecorded reports whether any layer is only recorded.
func hasRecorded(ls []checks.Layer) bool {
	for _, l := range ls {
		if l.Listing != nil && l.Listing.Recorded {
			return true
		}
	}
	return false
}
