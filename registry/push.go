package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/partial"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// PushResult describes a finished push.
type PushResult struct {
	// References are REPO@sha256:… for each pushed repository, in the
	// order the tags named them.
	References []string
	// Digest is the manifest digest.
	Digest v1.Hash
	// Layers are the blobs of the image (layers in order, then the
	// config) and what happened to each in the first repository.
	Layers []BlobStatus
}

// BlobStatus says what happened to one blob.
type BlobStatus struct {
	Digest v1.Hash `json:"digest"`
	Size   int64   `json:"size"`
	// Status is StatusPushed, StatusExists (found by the existence check)
	// or StatusMounted (cross-repository mount).
	Status string `json:"status"`
	// Config marks the image config blob.
	Config bool `json:"config,omitempty"`
}

// Push uploads img to every tag (REGISTRY/REPO:TAG). Per repository it
// makes sure the repository exists (ECR), uploads the blobs in parallel
// (bounded by Jobs; existing blobs skipped, base blobs mounted when in the
// same registry), then puts the manifest by digest and only then the tags,
// so a manifest never lands before all its blobs and an immutable-tag
// refusal still leaves the image reachable by digest. It is
// NewUploader(tags, opts) followed by the Uploader's Push.
func Push(ctx context.Context, img v1.Image, tags []string, opts Options) (*PushResult, error) {
	u, err := NewUploader(tags, opts)
	if err != nil {
		return nil, err
	}
	return u.Push(ctx, img)
}

// groupTags parses tags and groups them by repository, keeping order.
func groupTags(tags []string) ([]name.Repository, map[name.Repository][]name.Tag, error) {
	var repos []name.Repository
	by := map[name.Repository][]name.Tag{}
	for _, s := range tags {
		t, err := ParseTag(s)
		if err != nil {
			return nil, nil, fmt.Errorf("push: %w", err)
		}
		r := t.Context()
		if _, ok := by[r]; !ok {
			repos = append(repos, r)
		}
		by[r] = append(by[r], t)
	}
	return repos, by, nil
}

type blob struct {
	layer  v1.Layer
	digest v1.Hash
	size   int64
	config bool
}

func imageBlobs(img v1.Image) ([]blob, error) {
	ls, err := img.Layers()
	if err != nil {
		return nil, fmt.Errorf("reading layers: %w", err)
	}
	cl, err := partial.ConfigLayer(img)
	if err != nil {
		return nil, fmt.Errorf("reading config: %w", err)
	}
	var out []blob
	for i, l := range append(ls, cl) {
		b, err := blobOf(l, i == len(ls))
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

func blobOf(l v1.Layer, config bool) (blob, error) {
	d, err := l.Digest()
	if err != nil {
		return blob{}, fmt.Errorf("layer digest: %w", err)
	}
	sz, err := l.Size()
	if err != nil {
		return blob{}, fmt.Errorf("layer %s size: %w", d, err)
	}
	return blob{layer: l, digest: d, size: sz, config: config}, nil
}

// classifyTagError recognises an immutable-tag refusal. ECR answers a tag
// overwrite in an IMMUTABLE repository with 400 TAG_INVALID ("... cannot
// be overwritten because the repository is immutable"); the pusher already
// treated an identical manifest under the tag as success.
func classifyTagError(tag name.Tag, dref name.Digest, err error) error {
	var terr *transport.Error
	if errors.As(err, &terr) {
		for _, d := range terr.Errors {
			msg := strings.ToLower(d.Message)
			if d.Code == transport.TagInvalidErrorCode || strings.Contains(msg, "immutable") {
				return &Error{Kind: ErrTagImmutable, Op: "tagging", Ref: tag.String(), PushedRef: dref.String(), Err: err}
			}
		}
	}
	return classify("tagging", tag.String(), err)
}

// progressLayer counts the compressed bytes the pusher reads, per attempt.
type progressLayer struct {
	v1.Layer
	bar *bar
}

func withProgress(l v1.Layer, b *bar) v1.Layer {
	if b == nil {
		return l
	}
	// Keep the mount hint: the pusher type-asserts *remote.MountableLayer.
	if ml, ok := l.(*remote.MountableLayer); ok {
		return &remote.MountableLayer{Layer: &progressLayer{Layer: ml.Layer, bar: b}, Reference: ml.Reference}
	}
	return &progressLayer{Layer: l, bar: b}
}

func (p *progressLayer) Compressed() (io.ReadCloser, error) {
	rc, err := p.Layer.Compressed()
	if err != nil {
		return nil, err
	}
	p.bar.restart()
	return &countingReader{rc: rc, bar: p.bar}, nil
}

type countingReader struct {
	rc  io.ReadCloser
	bar *bar
}

func (c *countingReader) Read(b []byte) (int, error) {
	n, err := c.rc.Read(b)
	c.bar.add(int64(n))
	return n, err
}

func (c *countingReader) Close() error { return c.rc.Close() }
