package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/awslabs/amazon-ecr-credential-helper/ecr-login/api"
	"github.com/google/go-containerregistry/pkg/name"
)

// ErrNoRegistryHost: a push target that does not write out its registry
// host. name.ParseReference would quietly send "myfunc:latest" to Docker
// Hub, which is never where an image for Lambda belongs (Lambda pulls only
// from ECR); Docker Hub is still reachable as docker.io/NAME.
var ErrNoRegistryHost = errors.New("no registry host")

// ParseTag parses a push target, refusing one whose registry host is not
// written out.
func ParseTag(ref string) (name.Tag, error) {
	t, err := name.NewTag(ref)
	if err != nil {
		return name.Tag{}, fmt.Errorf("tag %q: %w", ref, err)
	}
	if !hasExplicitHost(ref) {
		return name.Tag{}, fmt.Errorf("tag %q: %w: it would be pushed to %s", ref, ErrNoRegistryHost, t.Context().Name())
	}
	return t, nil
}

// ParseReference parses an image reference to read (REGISTRY/REPO:TAG or
// REGISTRY/REPO@DIGEST), refusing, like ParseTag, one whose registry host
// is not written out.
func ParseReference(ref string) (name.Reference, error) {
	r, err := name.ParseReference(ref)
	if err != nil {
		return nil, fmt.Errorf("reference %q: %w", ref, err)
	}
	if !hasExplicitHost(ref) {
		return nil, fmt.Errorf("reference %q: %w: it would be read from %s", ref, ErrNoRegistryHost, r.Context().Name())
	}
	return r, nil
}

// hasExplicitHost applies the reference grammar's rule: the first
// component is a host when it contains a dot or a port, or is localhost.
func hasExplicitHost(ref string) bool {
	first, _, ok := strings.Cut(ref, "/")
	return ok && (strings.ContainsAny(first, ".:") || first == "localhost")
}

// IsPrivateECR reports whether ref names a private Amazon ECR repository
// by its host (ACCOUNT.dkr.ecr.REGION.amazonaws.com, dual-stack, China and
// other partitions; not public.ecr.aws).
func IsPrivateECR(ref string) bool {
	r, err := name.ParseReference(ref)
	if err != nil {
		return false
	}
	reg, err := api.ExtractRegistry(r.Context().RegistryStr())
	return err == nil && reg.Service == api.ServiceECR
}
