package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ErrNoImage: a reference read for what it records names no image (yet).
var ErrNoImage = errors.New("no image")

// Previous is an image read for what it records — its manifest and config,
// none of its layers — and the repository its blobs are in.
type Previous struct {
	// Ref is the reference as given.
	Ref      string
	Repo     name.Repository
	Digest   v1.Hash
	Manifest *v1.Manifest
	Config   *v1.ConfigFile
	puller   *remote.Puller
	ctx      context.Context
}

// FetchPrevious reads the manifest and the config of the image ref names:
// two small requests. A reference that names nothing is ErrNoImage (a
// first push); an index is refused (lambda-oci pushes single manifests).
// The returned Previous answers blob queries in its repository with the
// same credentials, under ctx.
func FetchPrevious(ctx context.Context, ref string, opts Options) (*Previous, error) {
	r, err := ParseReference(ref)
	if err != nil {
		return nil, err
	}
	ro, err := remoteOptions(ctx, opts, nil)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	p, err := remote.NewPuller(ro...)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", ref, err)
	}
	desc, err := p.Get(ctx, r)
	if err != nil {
		var terr *transport.Error
		if errors.As(err, &terr) && terr.StatusCode == http.StatusNotFound {
			return nil, &Error{Kind: ErrNoImage, Op: "reading", Ref: ref, Err: err}
		}
		return nil, classify("reading", ref, err)
	}
	if desc.MediaType.IsIndex() {
		return nil, fmt.Errorf("reading %s: an index, not an image manifest", ref)
	}
	img, err := desc.Image()
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", ref, err)
	}
	m, err := img.Manifest()
	if err != nil {
		return nil, fmt.Errorf("reading %s: manifest: %w", ref, err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, classify("reading config of", ref, err)
	}
	return &Previous{Ref: ref, Repo: r.Context(), Digest: desc.Digest, Manifest: m, Config: cf, puller: p, ctx: ctx}, nil
}

// HasBlob reports whether the repository holds the blob (one HEAD).
func (p *Previous) HasBlob(d v1.Hash) (bool, error) {
	l, err := p.puller.Layer(p.ctx, p.Repo.Digest(d.String()))
	if err != nil {
		return false, err
	}
	ok, err := partial.Exists(l)
	if err != nil {
		return false, classify("looking for blob "+d.String()+" in", p.Repo.String(), err)
	}
	return ok, nil
}

// Layer is the layer desc names in the repository, its diffID as given:
// a layer whose every fact is known without reading it. Appending it to an
// image reads nothing; pushing it to this registry mounts it (or finds it
// there), to another one streams it from here; reading it fetches the
// blob, verified against its digest.
func (p *Previous) Layer(desc v1.Descriptor, diffID v1.Hash) (v1.Layer, error) {
	ref := p.Repo.Digest(desc.Digest.String())
	// partial adds the gzip reading; diffID overrides the hash it would
	// compute by reading the whole blob.
	l, err := partial.CompressedToLayer(&storedBlob{desc: desc, open: func() (v1.Layer, error) { return p.puller.Layer(p.ctx, ref) }})
	if err != nil {
		return nil, fmt.Errorf("layer %s: %w", ref, err)
	}
	return &remote.MountableLayer{Layer: knownDiffID{Layer: l, diffID: diffID}, Reference: ref}, nil
}

// knownDiffID is a layer whose diffID is known without reading it.
type knownDiffID struct {
	v1.Layer
	diffID v1.Hash
}

func (l knownDiffID) DiffID() (v1.Hash, error) { return l.diffID, nil }

// storedBlob is a compressed blob known by its descriptor, fetched only
// when read.
type storedBlob struct {
	desc v1.Descriptor
	open func() (v1.Layer, error)
}

func (b *storedBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *storedBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *storedBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }

func (b *storedBlob) Compressed() (io.ReadCloser, error) {
	rl, err := b.open()
	if err != nil {
		return nil, err
	}
	return rl.Compressed()
}
