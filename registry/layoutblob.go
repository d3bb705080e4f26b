package registry

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"io/fs"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// go-containerregistry's layout package hands out blob bytes as they are on
// disk: a layer, config or manifest whose bytes do not match its digest is
// read as if genuine (its remote package, by contrast, verifies every blob
// it fetches). A base read from a layout therefore goes through the types
// below, which check every byte read against the digest and size that name
// it. Verifying a layer's uncompressed stream against its diffID is a
// separate matter, left to whoever decompresses it.

// verifiedLayout reads blobs from one layout, verified.
type verifiedLayout struct {
	dir  string
	path layout.Path
}

// ErrDigestMismatch marks a blob whose content does not match the digest
// (or size) it is referred to by.
var ErrDigestMismatch = errors.New("content does not match its digest")

// open returns the blob d, verified while it is read. A missing blob that
// the descriptor says is foreign (non-distributable) gets its own message:
// such layers are usually left out of layouts on purpose.
func (l verifiedLayout) open(d v1.Descriptor) (io.ReadCloser, error) {
	rc, err := l.path.Blob(d.Digest)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && isForeign(d.MediaType) {
			return nil, fmt.Errorf("layout %s: layer %s is a foreign (non-distributable) layer whose blob is not in the layout%s",
				l.dir, d.Digest, urlsNote(d.URLs))
		}
		return nil, fmt.Errorf("layout %s: blob %s: %w", l.dir, d.Digest, err)
	}
	h, err := newHasher(d.Digest)
	if err != nil {
		rc.Close()
		return nil, fmt.Errorf("layout %s: blob %s: %w", l.dir, d.Digest, err)
	}
	return &verifyingReader{rc: rc, dir: l.dir, want: d.Digest, size: d.Size, h: h}, nil
}

// bytes reads the whole blob d, verified.
func (l verifiedLayout) bytes(d v1.Descriptor) ([]byte, error) {
	rc, err := l.open(d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

func isForeign(mt types.MediaType) bool {
	switch mt {
	case types.DockerForeignLayer, types.OCIRestrictedLayer, types.OCIUncompressedRestrictedLayer:
		return true
	}
	return false
}

func urlsNote(urls []string) string {
	if len(urls) == 0 {
		return ""
	}
	return " (its descriptor points at " + strings.Join(urls, ", ") + ")"
}

func newHasher(d v1.Hash) (hash.Hash, error) {
	if d.Algorithm != "sha256" {
		return nil, fmt.Errorf("unsupported digest algorithm %q", d.Algorithm)
	}
	return sha256.New(), nil
}

// verifyingReader fails as soon as more than size bytes arrive, and at EOF
// when the count or the digest is wrong, so a corrupt blob never reads as
// a clean EOF.
type verifyingReader struct {
	rc   io.ReadCloser
	dir  string
	want v1.Hash
	size int64
	h    hash.Hash
	n    int64
}

func (v *verifyingReader) Read(p []byte) (int, error) {
	n, err := v.rc.Read(p)
	v.h.Write(p[:n])
	v.n += int64(n)
	if v.n > v.size {
		return n, v.mismatch(fmt.Sprintf("more than the %d bytes its descriptor says", v.size))
	}
	if err == io.EOF {
		if v.n != v.size {
			return n, v.mismatch(fmt.Sprintf("%d bytes, its descriptor says %d", v.n, v.size))
		}
		if got := hex.EncodeToString(v.h.Sum(nil)); got != v.want.Hex {
			return n, v.mismatch("got " + v.want.Algorithm + ":" + got)
		}
	}
	return n, err
}

func (v *verifyingReader) mismatch(detail string) error {
	return fmt.Errorf("layout %s: blob %s: %w (%s)", v.dir, v.want, ErrDigestMismatch, detail)
}

func (v *verifyingReader) Close() error { return v.rc.Close() }

// layoutIndex is an index read from a verified layout. The top-level
// index.json has no digest to check; every index below it does.
type layoutIndex struct {
	l   verifiedLayout
	raw []byte
	mt  types.MediaType
}

var _ v1.ImageIndex = (*layoutIndex)(nil)

func (i *layoutIndex) MediaType() (types.MediaType, error) { return i.mt, nil }
func (i *layoutIndex) Digest() (v1.Hash, error)            { return partial.Digest(i) }
func (i *layoutIndex) Size() (int64, error)                { return partial.Size(i) }
func (i *layoutIndex) RawManifest() ([]byte, error)        { return i.raw, nil }

func (i *layoutIndex) IndexManifest() (*v1.IndexManifest, error) {
	var im v1.IndexManifest
	if err := json.Unmarshal(i.raw, &im); err != nil {
		return nil, fmt.Errorf("layout %s: parsing index: %w", i.l.dir, err)
	}
	return &im, nil
}

func (i *layoutIndex) find(h v1.Hash) (v1.Descriptor, error) {
	im, err := i.IndexManifest()
	if err != nil {
		return v1.Descriptor{}, err
	}
	for _, d := range im.Manifests {
		if d.Digest == h {
			return d, nil
		}
	}
	return v1.Descriptor{}, fmt.Errorf("layout %s: no manifest %s in the index", i.l.dir, h)
}

func (i *layoutIndex) Image(h v1.Hash) (v1.Image, error) {
	d, err := i.find(h)
	if err != nil {
		return nil, err
	}
	return i.l.image(d)
}

func (i *layoutIndex) ImageIndex(h v1.Hash) (v1.ImageIndex, error) {
	d, err := i.find(h)
	if err != nil {
		return nil, err
	}
	return i.l.index(d)
}

func (l verifiedLayout) index(d v1.Descriptor) (v1.ImageIndex, error) {
	if !d.MediaType.IsIndex() {
		return nil, fmt.Errorf("layout %s: %s has media type %s, not an index", l.dir, d.Digest, d.MediaType)
	}
	raw, err := l.bytes(d)
	if err != nil {
		return nil, err
	}
	return &layoutIndex{l: l, raw: raw, mt: d.MediaType}, nil
}

func (l verifiedLayout) image(d v1.Descriptor) (v1.Image, error) {
	if !d.MediaType.IsImage() {
		return nil, fmt.Errorf("layout %s: %s has media type %s, not an image", l.dir, d.Digest, d.MediaType)
	}
	raw, err := l.bytes(d)
	if err != nil {
		return nil, err
	}
	m, err := v1.ParseManifest(bytes.NewReader(raw))
	if err != nil {
		return nil, fmt.Errorf("layout %s: manifest %s: %w", l.dir, d.Digest, err)
	}
	return partial.CompressedToImage(&layoutImage{l: l, desc: d, raw: raw, m: m})
}

// layoutImage is partial.CompressedImageCore over verified reads; the
// manifest was verified when the image was opened.
type layoutImage struct {
	l    verifiedLayout
	desc v1.Descriptor
	raw  []byte
	m    *v1.Manifest
}

func (li *layoutImage) MediaType() (types.MediaType, error) { return li.desc.MediaType, nil }
func (li *layoutImage) RawManifest() ([]byte, error)        { return li.raw, nil }
func (li *layoutImage) RawConfigFile() ([]byte, error)      { return li.l.bytes(li.m.Config) }

func (li *layoutImage) LayerByDigest(h v1.Hash) (partial.CompressedLayer, error) {
	if h == li.m.Config.Digest {
		return &layoutBlob{l: li.l, desc: li.m.Config}, nil
	}
	for _, d := range li.m.Layers {
		if d.Digest == h {
			return &layoutLayer{layoutBlob: layoutBlob{l: li.l, desc: d}, img: li}, nil
		}
	}
	return nil, fmt.Errorf("layout %s: image %s has no layer %s", li.l.dir, li.desc.Digest, h)
}

// layoutBlob is one blob (a layer or the config) of a layoutImage.
type layoutBlob struct {
	l    verifiedLayout
	desc v1.Descriptor
}

func (b *layoutBlob) Digest() (v1.Hash, error)            { return b.desc.Digest, nil }
func (b *layoutBlob) Size() (int64, error)                { return b.desc.Size, nil }
func (b *layoutBlob) MediaType() (types.MediaType, error) { return b.desc.MediaType, nil }
func (b *layoutBlob) Descriptor() (*v1.Descriptor, error) { return &b.desc, nil }
func (b *layoutBlob) Compressed() (io.ReadCloser, error)  { return b.l.open(b.desc) }

// layoutLayer is a layer blob, which also has a diffID.
type layoutLayer struct {
	layoutBlob
	img *layoutImage
}

// DiffID comes from the config, as for remote layers: computing it would
// read (and, for a foreign layer, need) the whole blob just to describe it.
func (b *layoutLayer) DiffID() (v1.Hash, error) {
	img, err := partial.CompressedToImage(b.img)
	if err != nil {
		return v1.Hash{}, err
	}
	return partial.BlobToDiffID(img, b.desc.Digest)
}
