package checks

import (
	"context"
	"errors"
	"fmt"
	"runtime"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"
)

// LoadOptions say how an image's layers are read.
type LoadOptions struct {
	// Reader reads (and caches) listings; the zero value reads afresh.
	Reader Reader
	// Jobs bounds how many layers are read at once (0: CPUs + 1; reading
	// is bound by decompression, plus a little network wait).
	Jobs int
}

// Load reads what the rules need of any image: its manifest, its config and
// every layer's listing, each layer read once (or taken from the Reader's
// cache), several at a time. Its layers have origin Own: an image checked
// as it is has no base to excuse.
func Load(ctx context.Context, img v1.Image, opts LoadOptions) (*Image, error) {
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("reading manifest: %w", err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("parsing manifest: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return nil, fmt.Errorf("manifest media type: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	out := &Image{MediaType: mt, ManifestSize: int64(len(raw)), Config: cf, Layers: make([]Layer, len(m.Layers))}
	jobs := opts.Jobs
	if jobs <= 0 {
		jobs = runtime.NumCPU() + 1
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, d := range m.Layers {
		out.Layers[i] = Layer{Digest: d.Digest, MediaType: d.MediaType, Size: d.Size, Origin: Own, Kind: "layer"}
		if i < len(cf.RootFS.DiffIDs) {
			out.Layers[i].DiffID = cf.RootFS.DiffIDs[i]
		}
		g.Go(func() error {
			// By digest, not img.Layers(): the latter asks the config for
			// diff_ids, which may be what is wrong with the image.
			l, err := img.LayerByDigest(d.Digest)
			if err != nil {
				return fmt.Errorf("layer %d (%s): %w", i+1, d.Digest, err)
			}
			ls, err := opts.Reader.Listing(gctx, l)
			if err != nil {
				return fmt.Errorf("layer %d: %w", i+1, err)
			}
			out.Layers[i].Listing = ls
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return out, nil
}

// Report is the verdict on what a reference names.
type Report struct {
	// Digest is what the reference names: an index or a manifest.
	Digest v1.Hash
	// Index is set when the reference names an index.
	Index *Index
	// Manifest and Platform are the single-platform manifest checked;
	// Image is nil (and Manifest zero) when an index offered none to check.
	Manifest v1.Hash
	Platform *v1.Platform
	Image    *Image
	// Selected is the manifest checked, as an image (fix starts from it).
	Selected v1.Image
	Findings []Finding
}

// Ready reports an image Lambda would accept: no error-severity finding.
func (r *Report) Ready() bool { return Errors(r.Findings) == nil }

// ErrNoImage: Check was given neither an index nor an image.
var ErrNoImage = errors.New("no image to check")

// Check gives Lambda's verdict on an index or an image (exactly one of idx
// and img): an index is itself a finding, and the manifest for cfg.Arch (or
// its only runnable one) is checked further.
func Check(ctx context.Context, idx v1.ImageIndex, img v1.Image, cfg Config, opts LoadOptions) (*Report, error) {
	r := &Report{}
	var err error
	switch {
	case (idx == nil) == (img == nil):
		return nil, ErrNoImage
	case idx != nil:
		if r.Index, err = ReadIndex(idx); err != nil {
			return nil, err
		}
		r.Digest = r.Index.Digest
		e, ok := r.Index.Select(cfg.Arch)
		if !ok {
			r.Findings = unselectable(r.Index, cfg.Arch)
			return r, nil
		}
		if img, err = idx.Image(e.Digest); err != nil {
			return nil, fmt.Errorf("reading manifest %s: %w", e.Digest, err)
		}
		r.Manifest = e.Digest
	default:
		if r.Digest, err = img.Digest(); err != nil {
			return nil, fmt.Errorf("manifest digest: %w", err)
		}
		r.Manifest = r.Digest
	}
	r.Selected = img
	if r.Image, err = Load(ctx, img, opts); err != nil {
		return nil, fmt.Errorf("manifest %s: %w", r.Manifest, err)
	}
	r.Image.Index = r.Index
	r.Platform = r.Image.Config.Platform()
	r.Findings = Run(r.Image, cfg)
	return r, nil
}
