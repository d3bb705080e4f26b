package publish

import (
	"context"
	"fmt"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/registry"
)

// Registry pushes to every tag with a registry.Uploader. A push cannot be
// undone: its Publication's Undo does nothing, which is why Multi callers
// put it last. It is a Stager: blobs staged while a build runs are
// uploaded at once, and the Publish that follows uploads only the rest.
func Registry(tags []string, opts registry.Options) Publisher {
	return &registryPublisher{tags: tags, opts: opts}
}

type registryPublisher struct {
	tags []string
	opts registry.Options

	mu sync.Mutex
	// up holds what Stage uploaded until the next Publish.
	up *registry.Uploader
}

func (r *registryPublisher) String() string { return "registry " + strings.Join(r.tags, ", ") }

// Check parses the tags; whether the registry accepts them is known only
// when pushing.
func (r *registryPublisher) Check([]string) error {
	if len(r.tags) == 0 {
		return fmt.Errorf("%s: no tags", r)
	}
	for _, t := range r.tags {
		if _, err := name.NewTag(t); err != nil {
			return fmt.Errorf("tag %q: %w", t, err)
		}
	}
	return nil
}

// Stage uploads l's blob to every repository (registry.Uploader.Upload).
func (r *registryPublisher) Stage(ctx context.Context, l v1.Layer) error {
	r.mu.Lock()
	if r.up == nil {
		up, err := registry.NewUploader(r.tags, r.opts)
		if err != nil {
			r.mu.Unlock()
			return err
		}
		r.up = up
	}
	up := r.up
	r.mu.Unlock()
	return up.Upload(ctx, l)
}

// Publish pushes img through the uploader of the blobs staged before it,
// if any; the next Stage starts afresh.
func (r *registryPublisher) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	r.mu.Lock()
	up := r.up
	r.up = nil
	r.mu.Unlock()
	if up == nil {
		var err error
		if up, err = registry.NewUploader(r.tags, r.opts); err != nil {
			return nil, err
		}
	}
	pr, err := up.Push(ctx, img)
	if err != nil {
		return nil, err
	}
	return &Publication{Destination: r.String(), References: pr.References, Push: pr}, nil
}
