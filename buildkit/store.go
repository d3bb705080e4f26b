package buildkit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sync"

	"github.com/containerd/containerd/v2/core/content"
	"github.com/containerd/errdefs"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/opencontainers/go-digest"
	ocispecs "github.com/opencontainers/image-spec/specs-go/v1"
)

// blobStore is the read-only content store the session offers the daemon
// (llb.OCILayout reads from it): the blobs this process made, served as
// they are, so the daemon's layers have the very digests of the
// in-process build. Nothing is copied: each read streams the blob from
// where it already is (the conversion cache, a temp file, an OCI layout).
type blobStore struct {
	mu    sync.Mutex
	blobs map[digest.Digest]blob
}

// blob is one thing the store can serve: bytes in hand (manifests,
// configs) or a layer's compressed stream.
type blob struct {
	size  int64
	bytes []byte
	layer v1.Layer
}

func newBlobStore() *blobStore { return &blobStore{blobs: map[digest.Digest]blob{}} }

func (s *blobStore) addBytes(b []byte) ocispecs.Descriptor {
	d := digest.FromBytes(b)
	s.mu.Lock()
	s.blobs[d] = blob{size: int64(len(b)), bytes: b}
	s.mu.Unlock()
	return ocispecs.Descriptor{Digest: d, Size: int64(len(b))}
}

func (s *blobStore) addLayer(l v1.Layer) (ocispecs.Descriptor, error) {
	h, err := l.Digest()
	if err != nil {
		return ocispecs.Descriptor{}, fmt.Errorf("layer digest: %w", err)
	}
	size, err := l.Size()
	if err != nil {
		return ocispecs.Descriptor{}, fmt.Errorf("layer %s: size: %w", h, err)
	}
	mt, err := l.MediaType()
	if err != nil {
		return ocispecs.Descriptor{}, fmt.Errorf("layer %s: media type: %w", h, err)
	}
	d := digest.Digest(h.String())
	s.mu.Lock()
	s.blobs[d] = blob{size: size, layer: l}
	s.mu.Unlock()
	return ocispecs.Descriptor{MediaType: string(mt), Digest: d, Size: size}, nil
}

// addLayersImage wraps layers in an image of their own (a manifest in the
// given family and a config naming only their diffIDs), so that they can
// be an llb.OCILayout source and a merge input whose layers stay as they
// are. The config is the daemon's business only: the exported image gets
// the config the build computed.
func (s *blobStore) addLayersImage(layers []v1.Layer, manifestType types.MediaType, platform v1.Platform) (digest.Digest, error) {
	m := v1.Manifest{SchemaVersion: 2, MediaType: manifestType}
	cfg := v1.ConfigFile{Architecture: platform.Architecture, OS: platform.OS, Variant: platform.Variant, RootFS: v1.RootFS{Type: "layers"}}
	for _, l := range layers {
		desc, err := s.addLayer(l)
		if err != nil {
			return "", err
		}
		diffID, err := l.DiffID()
		if err != nil {
			return "", fmt.Errorf("layer %s: diffID: %w", desc.Digest, err)
		}
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, diffID)
		m.Layers = append(m.Layers, v1.Descriptor{MediaType: types.MediaType(desc.MediaType), Size: desc.Size, Digest: mustHash(desc.Digest)})
	}
	raw, err := json.Marshal(&cfg)
	if err != nil {
		return "", fmt.Errorf("config: %w", err)
	}
	cd := s.addBytes(raw)
	m.Config = v1.Descriptor{MediaType: types.OCIConfigJSON, Size: cd.Size, Digest: mustHash(cd.Digest)}
	if manifestType == types.DockerManifestSchema2 {
		m.Config.MediaType = types.DockerConfigJSON
	}
	if raw, err = json.Marshal(&m); err != nil {
		return "", fmt.Errorf("manifest: %w", err)
	}
	return s.addBytes(raw).Digest, nil
}

// mustHash converts a digest this package computed itself (so valid).
func mustHash(d digest.Digest) v1.Hash {
	h, err := v1.NewHash(d.String())
	if err != nil {
		panic(err)
	}
	return h
}

func (s *blobStore) get(d digest.Digest) (blob, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, ok := s.blobs[d]
	if !ok {
		return blob{}, fmt.Errorf("blob %s: %w", d, errdefs.ErrNotFound)
	}
	return b, nil
}

func (s *blobStore) Info(_ context.Context, d digest.Digest) (content.Info, error) {
	b, err := s.get(d)
	if err != nil {
		return content.Info{}, err
	}
	return content.Info{Digest: d, Size: b.size}, nil
}

func (s *blobStore) ReaderAt(_ context.Context, desc ocispecs.Descriptor) (content.ReaderAt, error) {
	b, err := s.get(desc.Digest)
	if err != nil {
		return nil, err
	}
	if b.layer == nil {
		return &bytesReaderAt{bytes.NewReader(b.bytes)}, nil
	}
	return &layerReaderAt{layer: b.layer, size: b.size}, nil
}

func (s *blobStore) Walk(ctx context.Context, fn content.WalkFunc, _ ...string) error {
	s.mu.Lock()
	infos := make([]content.Info, 0, len(s.blobs))
	for d, b := range s.blobs {
		infos = append(infos, content.Info{Digest: d, Size: b.size})
	}
	s.mu.Unlock()
	for _, i := range infos {
		if err := fn(i); err != nil {
			return err
		}
	}
	return nil
}

// The store is read-only: the daemon only reads what this build offers.

func (s *blobStore) Update(context.Context, content.Info, ...string) (content.Info, error) {
	return content.Info{}, fmt.Errorf("session blob store is read-only: %w", errdefs.ErrNotImplemented)
}

func (s *blobStore) Delete(context.Context, digest.Digest) error {
	return fmt.Errorf("session blob store is read-only: %w", errdefs.ErrNotImplemented)
}

func (s *blobStore) Status(context.Context, string) (content.Status, error) {
	return content.Status{}, fmt.Errorf("session blob store is read-only: %w", errdefs.ErrNotImplemented)
}

func (s *blobStore) ListStatuses(context.Context, ...string) ([]content.Status, error) {
	return nil, nil
}

func (s *blobStore) Abort(context.Context, string) error {
	return fmt.Errorf("session blob store is read-only: %w", errdefs.ErrNotImplemented)
}

func (s *blobStore) Writer(context.Context, ...content.WriterOpt) (content.Writer, error) {
	return nil, fmt.Errorf("session blob store is read-only: %w", errdefs.ErrNotImplemented)
}

type bytesReaderAt struct{ *bytes.Reader }

func (r *bytesReaderAt) Close() error { return nil }

// layerReaderAt serves a layer's compressed stream as a ReaderAt. The
// daemon reads a blob front to back, so the stream is kept open between
// calls; a read behind the current position reopens it, one ahead skips.
type layerReaderAt struct {
	layer v1.Layer
	size  int64

	mu  sync.Mutex
	rc  io.ReadCloser
	pos int64
}

func (r *layerReaderAt) Size() int64 { return r.size }

func (r *layerReaderAt) ReadAt(p []byte, off int64) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if off >= r.size {
		return 0, io.EOF
	}
	if r.rc == nil || off < r.pos {
		if r.rc != nil {
			_ = r.rc.Close()
		}
		rc, err := r.layer.Compressed()
		if err != nil {
			return 0, fmt.Errorf("opening layer: %w", err)
		}
		r.rc, r.pos = rc, 0
	}
	if off > r.pos {
		n, err := io.CopyN(io.Discard, r.rc, off-r.pos)
		r.pos += n
		if err != nil {
			return 0, fmt.Errorf("reading layer: %w", err)
		}
	}
	n, err := io.ReadFull(r.rc, p)
	r.pos += int64(n)
	if err == io.ErrUnexpectedEOF {
		err = io.EOF
	}
	return n, err
}

func (r *layerReaderAt) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rc == nil {
		return nil
	}
	err := r.rc.Close()
	r.rc = nil
	return err
}
