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
	"golang.org/x/sync/errgroup"
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
// refusal still leaves the image reachable by digest.
func Push(ctx context.Context, img v1.Image, tags []string, opts Options) (*PushResult, error) {
	if len(tags) == 0 {
		return nil, errors.New("push: no tag given")
	}
	repos, byRepo, err := groupTags(tags)
	if err != nil {
		return nil, err
	}
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("push: image digest: %w", err)
	}
	blobs, err := imageBlobs(img)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}

	prog := newProgress(opts.progressFunc())

	kc := opts.Keychain
	aws := &awsClients{}
	if kc == nil {
		k := newKeychain(opts)
		aws = k.aws
		kc = k
	}
	opts.Keychain = kc
	obs := newBlobObserver(baseTransport(opts))
	pusher, err := remote.NewPusher(pushOptions(ctx, opts, obs)...)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	res := &PushResult{Digest: digest}
	for i, repo := range repos {
		host := repo.RegistryStr()
		t, isECR, err := ecrTargetFor(host, opts)
		if err != nil {
			return nil, err
		}
		if isECR && !t.public {
			if err := aws.ensureRepository(ctx, t, host, repo.RepositoryStr(), opts.CreateRepository, opts.Logf); err != nil {
				return nil, err
			}
		}
		if err := uploadBlobs(ctx, pusher, repo, blobs, opts, prog, obs); err != nil {
			return nil, err
		}
		dref := repo.Digest(digest.String())
		err = withRetries(ctx, opts, "manifest "+dref.String(), nil, func() error { return pusher.Push(ctx, dref, img) })
		if err != nil {
			return nil, classify("pushing manifest to", dref.String(), err)
		}
		for _, tag := range byRepo[repo] {
			err := withRetries(ctx, opts, "tag "+tag.String(), nil, func() error { return pusher.Push(ctx, tag, img) })
			if err != nil {
				return nil, classifyTagError(tag, dref, err)
			}
		}
		res.References = append(res.References, dref.String())
		if i == 0 {
			for _, b := range blobs {
				st := obs.status(repo.RepositoryStr(), b.digest.String())
				if st == "" {
					// The pusher skipped the blob without a request:
					// another layer with the same digest already did it.
					st = StatusExists
				}
				res.Layers = append(res.Layers, BlobStatus{Digest: b.digest, Size: b.size, Status: st, Config: b.config})
			}
		}
	}
	return res, nil
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
		d, err := l.Digest()
		if err != nil {
			return nil, fmt.Errorf("layer %d digest: %w", i, err)
		}
		sz, err := l.Size()
		if err != nil {
			return nil, fmt.Errorf("layer %s size: %w", d, err)
		}
		out = append(out, blob{layer: l, digest: d, size: sz, config: i == len(ls)})
	}
	return out, nil
}

// uploadBlobs pushes every blob through the shared pusher, Jobs at a time.
// The pusher dedupes by digest, checks existence and mounts
// remote.MountableLayer blobs from their source repository. The first blob
// that fails for good cancels gctx: queued blobs never start, and blobs
// waiting to retry stop waiting.
func uploadBlobs(ctx context.Context, p *remote.Pusher, repo name.Repository, blobs []blob, opts Options, prog *progress, obs *blobObserver) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(opts.jobs())
	for _, b := range blobs {
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			bar := prog.start(repo.String(), b.digest, b.size, b.config)
			err := withRetries(gctx, opts, "blob "+b.digest.String(), bar.retrying, func() error {
				return p.Upload(gctx, repo, withProgress(b.layer, bar))
			})
			if err != nil {
				err = classify("uploading blob "+b.digest.String()+" to", repo.String(), err)
				bar.fail(err)
				return err
			}
			bar.done(obs.status(repo.RepositoryStr(), b.digest.String()))
			return nil
		})
	}
	return g.Wait()
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
