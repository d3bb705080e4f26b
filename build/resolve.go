package build

import (
	"context"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ResolvedBase is what a spec's base reference points at today for its
// architecture.
type ResolvedBase struct {
	// Ref is the base reference (Spec.Base, else the runtime's AWS image).
	Ref string
	// Digest is the digest of the architecture's image manifest.
	Digest v1.Hash
}

// ResolveBase resolves the spec's base as Build would, without
// converting or checking anything: what a lock file pins and an update
// re-reads. Only the manifests are fetched.
func ResolveBase(ctx context.Context, spec Spec, opts Options) (ResolvedBase, error) {
	b, err := newBuilder(spec, opts)
	if err != nil {
		return ResolvedBase{}, err
	}
	img, err := b.fetchBase(ctx)
	if err != nil {
		return ResolvedBase{}, err
	}
	d, err := img.Digest()
	if err != nil {
		return ResolvedBase{}, fmt.Errorf("base %s: %w", b.res.Base, err)
	}
	return ResolvedBase{Ref: b.res.Base, Digest: d}, nil
}
