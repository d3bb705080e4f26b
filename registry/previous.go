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
	"github.com/klauspost/compress/gzip"
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
func (p *Previous) Layer(desc v1.Descriptor, diffID v1.Hash) v1.Layer {
	ref := p.Repo.Digest(desc.Digest.String())
	return &remote.MountableLayer{
		Layer:     &storedLayer{desc: desc, diffID: diffID, open: func() (v1.Layer, error) { return p.puller.Layer(p.ctx, ref) }},
		Reference: ref,
	}
}

// storedLayer is a layer known by its descriptor and diffID.
type storedLayer struct {
	desc   v1.Descriptor
	diffID v1.Hash
	open   func() (v1.Layer, error)
}

func (l *storedLayer) Digest() (v1.Hash, error)            { return l.desc.Digest, nil }
func (l *storedLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *storedLayer) Size() (int64, error)                { return l.desc.Size, nil }
func (l *storedLayer) MediaType() (types.MediaType, error) { return l.desc.MediaType, nil }

func (l *storedLayer) Compressed() (io.ReadCloser, error) {
	rl, err := l.open()
	if err != nil {
		return nil, err
	}
	return rl.Compressed()
}

// Uncompressed is the gzip stream decompressed: layers this is used for
// are gzip by their media type (the caller checked it).
func (l *storedLayer) Uncompressed() (io.ReadCloser, error) {
	rc, err := l.Compressed()
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(rc)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("layer %s: %w", l.desc.Digest, err)
	}
	return &gunzipped{Reader: zr, raw: rc}, nil
}

type gunzipped struct {
	*gzip.Reader
	raw io.ReadCloser
}

func (g *gunzipped) Close() error { return errors.Join(g.Reader.Close(), g.raw.Close()) }
