package image

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// PlatformError is a base without an image for the wanted architecture.
type PlatformError struct {
	Arch lambda.Arch
	// Got is the single image's platform; Available the index's platforms.
	Got       *v1.Platform
	Available []string
	// Nested lists index entries that are themselves indexes.
	Nested []string
}

func (e *PlatformError) Error() string {
	want := e.Arch.Platform()
	if e.Got != nil || e.Available == nil && e.Nested == nil {
		return fmt.Sprintf("base image is %s, but architecture %s needs %s (use a base for that platform or the other architecture)",
			lambda.PlatformString(e.Got), e.Arch, lambda.PlatformString(&want))
	}
	var what []string
	if len(e.Available) > 0 {
		what = append(what, "platforms "+strings.Join(e.Available, ", "))
	}
	if len(e.Nested) > 0 {
		what = append(what, strings.Join(e.Nested, "; ")+" (an index inside the index: use the nested index, by digest, as the base)")
	}
	if len(what) == 0 {
		what = []string{"no image manifests"}
	}
	return fmt.Sprintf("base index has no %s image for architecture %s (it has %s)",
		lambda.PlatformString(&want), e.Arch, strings.Join(what, "; "))
}

// SelectPlatform returns the image Lambda would run for arch: from an index,
// the manifest for that platform; a single image is returned only when its
// config says it is that platform. Exactly one of idx and img must be non-nil.
func SelectPlatform(idx v1.ImageIndex, img v1.Image, arch lambda.Arch) (v1.Image, error) {
	switch {
	case (idx == nil) == (img == nil):
		return nil, errors.New("selecting platform: exactly one of index and image must be given")
	case img != nil:
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading base config: %w", err)
		}
		if got := cf.Platform(); !arch.Runs(got) {
			if got == nil {
				got = &v1.Platform{OS: "unknown", Architecture: "unknown"}
			}
			return nil, &PlatformError{Arch: arch, Got: got}
		}
		return img, nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading base index: %w", err)
	}
	perr := &PlatformError{Arch: arch, Available: []string{}}
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			// Not searched: which of several nested indexes is meant is the
			// user's call. Say what is there instead of "none".
			perr.Nested = append(perr.Nested, describeNestedIndex(idx, d))
			continue
		}
		if !d.MediaType.IsImage() {
			continue
		}
		p := d.Platform
		if p == nil {
			// Some indexes omit the platform; the config is authoritative.
			sub, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading base manifest %s: %w", d.Digest, err)
			}
			cf, err := sub.ConfigFile()
			if err != nil {
				return nil, fmt.Errorf("reading config of base manifest %s: %w", d.Digest, err)
			}
			p = cf.Platform()
		}
		// Attestation manifests (buildx provenance/SBOM) carry unknown/unknown.
		if p == nil || p.OS == "unknown" {
			continue
		}
		if arch.Runs(p) {
			sub, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading base manifest %s for %s: %w", d.Digest, lambda.PlatformString(p), err)
			}
			return sub, nil
		}
		perr.Available = append(perr.Available, lambda.PlatformString(p))
	}
	sort.Strings(perr.Available)
	return nil, perr
}

// describeNestedIndex says what a nested index holds: "a nested index
// sha256:… with linux/amd64, linux/arm64".
func describeNestedIndex(idx v1.ImageIndex, d v1.Descriptor) string {
	s := "a nested index " + d.Digest.String()
	sub, err := idx.ImageIndex(d.Digest)
	if err != nil {
		return s + " (unreadable: " + err.Error() + ")"
	}
	im, err := sub.IndexManifest()
	if err != nil {
		return s + " (unreadable: " + err.Error() + ")"
	}
	var plats []string
	for _, m := range im.Manifests {
		switch {
		case m.MediaType.IsIndex():
			plats = append(plats, "another nested index")
		case m.Platform == nil:
			plats = append(plats, "an image without a platform")
		case m.Platform.OS != "unknown":
			plats = append(plats, lambda.PlatformString(m.Platform))
		}
	}
	if len(plats) == 0 {
		return s + " with no images"
	}
	sort.Strings(plats)
	return s + " with " + strings.Join(slices.Compact(plats), ", ")
}
