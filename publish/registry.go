package publish

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/registry"
)

// Registry pushes to every tag with registry.Push. A push cannot be
// undone: its Publication's Undo does nothing, which is why Multi callers
// put it last.
func Registry(tags []string, opts registry.Options) Publisher {
	return &registryPublisher{tags: tags, opts: opts}
}

type registryPublisher struct {
	tags []string
	opts registry.Options
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

func (r *registryPublisher) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	pr, err := registry.Push(ctx, img, r.tags, r.opts)
	if err != nil {
		return nil, err
	}
	return &Publication{Destination: r.String(), References: pr.References, Push: pr}, nil
}
