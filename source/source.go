// Package source opens an image by any reference a user can give: a
// registry reference, an OCI image layout on disk ("oci:PATH[:TAG]") or a
// docker save / podman save archive ("docker-archive:FILE[:REF]"). The
// first two are registry.FetchBase's; the archive is read here, from disk.
package source

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambda-oci/lambda-oci/registry"
)

// ArchivePrefix marks a reference that is a docker save archive.
const ArchivePrefix = "docker-archive:"

// Open resolves ref to an index or an image. Registry images are lazy: ctx
// must outlive the returned value's use (see registry.FetchBase).
func Open(ctx context.Context, ref string, opts registry.Options) (*registry.Base, error) {
	if rest, ok := strings.CutPrefix(ref, ArchivePrefix); ok {
		return openArchive(ref, rest)
	}
	return registry.FetchBase(ctx, ref, opts)
}

// openArchive opens "FILE[:REF]". A colon may belong to the file name, so
// FILE:REF is only split where the whole is not a file and its left side is.
func openArchive(ref, rest string) (*registry.Base, error) {
	file, tagStr := rest, ""
	if !isFile(rest) {
		// The file name may hold colons too: the first split whose left
		// side is a file wins.
		for i := 0; i < len(rest); i++ {
			if rest[i] == ':' && i > 0 && isFile(rest[:i]) {
				file, tagStr = rest[:i], rest[i+1:]
				break
			}
		}
	}
	if !isFile(file) {
		return nil, &registry.Error{Kind: registry.ErrBaseNotFound, Op: "opening image", Ref: ref,
			Err: fmt.Errorf("%s is not a file", file)}
	}
	var tag *name.Tag
	if tagStr != "" {
		t, err := name.NewTag(tagStr)
		if err != nil {
			return nil, fmt.Errorf("image %q: %w", ref, err)
		}
		tag = &t
	}
	img, err := tarball.ImageFromPath(file, tag)
	if err != nil {
		return nil, fmt.Errorf("image %q: %w", ref, err)
	}
	return &registry.Base{Ref: ref, Image: img}, nil
}

func isFile(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.Mode().IsRegular()
}
