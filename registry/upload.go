package registry

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"golang.org/x/sync/errgroup"
)

// Uploader pushes to the repositories of a set of tags, in two steps: blobs
// as soon as they exist (Upload, while the image that will name them is
// still being built and checked), then the image (Push), which uploads
// only what Upload did not and puts the manifest and the tags last. Blobs
// go through one pusher, which remembers what it uploaded where, so
// nothing is uploaded twice. A build refused after some Uploads leaves
// those blobs in the repositories but no manifest and no tag: nothing
// names them, and a registry's garbage collection reclaims them.
//
// An Uploader is safe for concurrent use.
type Uploader struct {
	repos  []name.Repository
	byRepo map[name.Repository][]name.Tag
	opts   Options
	aws    *awsClients
	pusher *remote.Pusher
	obs    *blobObserver
	prog   *progress
	// slots bounds concurrent Uploads to Jobs.
	slots chan struct{}

	mu      sync.Mutex
	ensured map[name.Repository]*ensureCall
	staged  map[string]bool // "repo@digest" uploaded by Upload
}

type ensureCall struct {
	done chan struct{}
	err  error
}

// NewUploader prepares pushing to every tag (REGISTRY/REPO:TAG). Nothing
// is sent until Upload or Push.
func NewUploader(tags []string, opts Options) (*Uploader, error) {
	if len(tags) == 0 {
		return nil, errors.New("push: no tag given")
	}
	repos, byRepo, err := groupTags(tags)
	if err != nil {
		return nil, err
	}
	aws := &awsClients{}
	if opts.Keychain == nil {
		k := newKeychain(opts)
		aws = k.aws
		opts.Keychain = k
	}
	obs := newBlobObserver(baseTransport(opts))
	// The pusher's methods take their own context; the option's is unused.
	pusher, err := remote.NewPusher(pushOptions(context.Background(), opts, obs)...)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	return &Uploader{
		repos: repos, byRepo: byRepo, opts: opts, aws: aws, pusher: pusher, obs: obs,
		prog: newProgress(opts.progressFunc()), slots: make(chan struct{}, opts.jobs()),
		ensured: map[name.Repository]*ensureCall{}, staged: map[string]bool{},
	}, nil
}

// Upload uploads the blob of l to every repository, unless it is there
// already (or mounted from the repository a remote layer came from), with
// retries and progress events, at most Jobs at a time. The first
// repository's upload reads l.Compressed() first; a retry, or another
// repository, reads it again. A layer that wraps another (an Unwrap()
// v1.Layer method) keeps the wrapped remote layer's mount hint.
//
// A failure is returned, not retried by Push: the caller decides whether
// the image is still worth pushing. An Upload cancelled through ctx
// reports no failed progress event (the caller gave up, not the registry).
func (u *Uploader) Upload(ctx context.Context, l v1.Layer) error {
	b, err := blobOf(l, false)
	if err != nil {
		return fmt.Errorf("push: %w", err)
	}
	b.layer = mountHint(l)
	select {
	case u.slots <- struct{}{}:
	case <-ctx.Done():
		return ctx.Err()
	}
	defer func() { <-u.slots }()
	for _, repo := range u.repos {
		if err := u.ensure(ctx, repo); err != nil {
			return err
		}
		if err := u.uploadOne(ctx, repo, b, true); err != nil {
			return err
		}
		u.mu.Lock()
		u.staged[repo.String()+"@"+b.digest.String()] = true
		u.mu.Unlock()
	}
	return nil
}

// Push uploads what Upload did not upload of img to every repository, then
// puts the manifest by digest and only then the tags, so a manifest never
// lands before all its blobs and an immutable-tag refusal still leaves the
// image reachable by digest. Blobs already uploaded by Upload cost no
// request and no second progress event; PushResult.Layers reports them as
// Upload found them (pushed, exists, mounted).
func (u *Uploader) Push(ctx context.Context, img v1.Image) (*PushResult, error) {
	digest, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("push: image digest: %w", err)
	}
	blobs, err := imageBlobs(img)
	if err != nil {
		return nil, fmt.Errorf("push: %w", err)
	}
	res := &PushResult{Digest: digest}
	for i, repo := range u.repos {
		if err := u.ensure(ctx, repo); err != nil {
			return nil, err
		}
		if err := u.uploadBlobs(ctx, repo, blobs); err != nil {
			return nil, err
		}
		dref := repo.Digest(digest.String())
		err = withRetries(ctx, u.opts, "manifest "+dref.String(), nil, func() error { return u.pusher.Push(ctx, dref, img) })
		if err != nil {
			return nil, classify("pushing manifest to", dref.String(), err)
		}
		for _, tag := range u.byRepo[repo] {
			err := withRetries(ctx, u.opts, "tag "+tag.String(), nil, func() error { return u.pusher.Push(ctx, tag, img) })
			if err != nil {
				return nil, classifyTagError(tag, dref, err)
			}
		}
		res.References = append(res.References, dref.String())
		if i == 0 {
			for _, b := range blobs {
				st := u.obs.status(repo.RepositoryStr(), b.digest.String())
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

// ensure makes sure an ECR repository exists (creating it if asked), once
// per repository, before its first blob.
func (u *Uploader) ensure(ctx context.Context, repo name.Repository) error {
	host := repo.RegistryStr()
	t, isECR, err := ecrTargetFor(host, u.opts)
	if err != nil {
		return err
	}
	if !isECR || t.public {
		return nil
	}
	for {
		u.mu.Lock()
		c, ok := u.ensured[repo]
		if !ok {
			c = &ensureCall{done: make(chan struct{})}
			u.ensured[repo] = c
			u.mu.Unlock()
			c.err = u.aws.ensureRepository(ctx, t, host, repo.RepositoryStr(), u.opts.CreateRepository, u.opts.Logf)
			if ctx.Err() != nil {
				// Cancelled here, not failed: the next caller tries again.
				u.mu.Lock()
				delete(u.ensured, repo)
				u.mu.Unlock()
			}
			close(c.done)
			return c.err
		}
		u.mu.Unlock()
		select {
		case <-c.done:
		case <-ctx.Done():
			return ctx.Err()
		}
		if c.err != nil && errors.Is(c.err, context.Canceled) && ctx.Err() == nil {
			continue // another caller's cancellation: try again
		}
		return c.err
	}
}

// uploadBlobs pushes every blob Upload did not, Jobs at a time, through
// the shared pusher, which dedupes by digest, checks existence and mounts
// remote.MountableLayer blobs from their source repository. The first blob
// that fails for good cancels gctx: queued blobs never start, and blobs
// waiting to retry stop waiting.
func (u *Uploader) uploadBlobs(ctx context.Context, repo name.Repository, blobs []blob) error {
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(u.opts.jobs())
	for _, b := range blobs {
		u.mu.Lock()
		staged := u.staged[repo.String()+"@"+b.digest.String()]
		u.mu.Unlock()
		if staged {
			continue
		}
		g.Go(func() error {
			if err := gctx.Err(); err != nil {
				return err
			}
			return u.uploadOne(gctx, repo, b, false)
		})
	}
	return g.Wait()
}

// uploadOne uploads one blob to one repository with retries, reporting
// progress. early marks an Upload, whose cancellation is not a failure.
func (u *Uploader) uploadOne(ctx context.Context, repo name.Repository, b blob, early bool) error {
	bar := u.prog.start(repo.String(), b.digest, b.size, b.config)
	err := withRetries(ctx, u.opts, "blob "+b.digest.String(), bar.retrying, func() error {
		return u.pusher.Upload(ctx, repo, withProgress(b.layer, bar))
	})
	if err != nil {
		err = classify("uploading blob "+b.digest.String()+" to", repo.String(), err)
		if !early || ctx.Err() == nil {
			bar.fail(err)
		}
		return err
	}
	bar.done(u.obs.status(repo.RepositoryStr(), b.digest.String()))
	return nil
}

// mountHint returns l as the pusher should see it: a layer wrapping a
// remote layer (through Unwrap() v1.Layer) is given the remote layer's
// reference, so the pusher can still mount it within one registry.
func mountHint(l v1.Layer) v1.Layer {
	if _, ok := l.(*remote.MountableLayer); ok {
		return l
	}
	for w := l; ; {
		uw, ok := w.(interface{ Unwrap() v1.Layer })
		if !ok {
			return l
		}
		if w = uw.Unwrap(); w == nil {
			return l
		}
		if ml, ok := w.(*remote.MountableLayer); ok {
			return &remote.MountableLayer{Layer: l, Reference: ml.Reference}
		}
	}
}
