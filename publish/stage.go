package publish

import (
	"context"
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// Stager is a destination that can take an image's blobs before the image
// exists, so a build can upload while it converts and checks (the registry
// publisher). Stage writes one blob; Publish later writes the rest, then
// the manifest and the tags, and finds the staged blobs in place. Staging
// is not publishing: a build refused after some Stage calls leaves their
// blobs at the destination but nothing that names them (no manifest, no
// tag).
type Stager interface {
	Stage(ctx context.Context, l v1.Layer) error
}

// StagerOf is what of p takes blobs early, or nil: p itself when it is a
// Stager, the staging parts of a Multi, what a decorator (an Unwrap()
// Publisher method, like RecordRefs) wraps. Build code asks it instead of
// knowing about registries.
func StagerOf(p Publisher) Stager {
	switch p := p.(type) {
	case multi:
		var ss stagers
		for _, part := range p {
			if s := StagerOf(part); s != nil {
				ss = append(ss, s)
			}
		}
		switch len(ss) {
		case 0:
			return nil
		case 1:
			return ss[0]
		}
		return ss
	case Stager:
		return p
	case interface{ Unwrap() Publisher }:
		return StagerOf(p.Unwrap())
	}
	return nil
}

// stagers stages to every part of a Multi, one after the other.
type stagers []Stager

func (ss stagers) Stage(ctx context.Context, l v1.Layer) error {
	var errs []error
	for _, s := range ss {
		if err := s.Stage(ctx, l); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}
