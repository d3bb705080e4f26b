package publish

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// pathed is a publisher that writes to a path on disk (Layout, Tarball),
// so Multi can refuse two of them on one path. A decorator forwards Path
// to keep that check; "" means no path.
type pathed interface{ Path() string }

// Multi publishes one image to every ps, in order. Callers put registries
// last: a push cannot be undone, so it should happen only once everything
// that can fail locally has succeeded. When one fails, the ones before it
// are undone and its error returned.
func Multi(ps ...Publisher) Publisher { return multi(ps) }

type multi []Publisher

func (m multi) String() string {
	names := make([]string, len(m))
	for i, p := range m {
		names[i] = p.String()
	}
	return strings.Join(names, ", ")
}

// Check checks every destination, then refuses two on one path: the
// second would overwrite the first.
func (m multi) Check(inputs []string) error {
	for _, p := range m {
		if err := p.Check(inputs); err != nil {
			return err
		}
	}
	seen := map[string]Publisher{}
	for _, p := range m {
		pp, ok := p.(pathed)
		if !ok || pp.Path() == "" {
			continue
		}
		abs, err := filepath.Abs(pp.Path())
		if err != nil {
			return fmt.Errorf("%s: %w", p, err)
		}
		if q, ok := seen[abs]; ok {
			return fmt.Errorf("%s and %s both name %s: give them different paths", q, p, pp.Path())
		}
		seen[abs] = p
	}
	return nil
}

func (m multi) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	all := &Publication{Destination: m.String()}
	all.undo = func() error {
		var errs []error
		for i := len(all.Parts) - 1; i >= 0; i-- {
			if err := all.Parts[i].Undo(); err != nil {
				errs = append(errs, fmt.Errorf("undoing %s: %w", all.Parts[i].Destination, err))
			}
		}
		return errors.Join(errs...)
	}
	for _, p := range m {
		pub, err := p.Publish(ctx, img)
		if err != nil {
			if uerr := all.Undo(); uerr != nil {
				return nil, errors.Join(err, uerr)
			}
			return nil, err
		}
		all.Parts = append(all.Parts, pub)
		all.References = append(all.References, pub.References...)
		if all.Push == nil {
			all.Push = pub.Push
		}
	}
	return all, nil
}
