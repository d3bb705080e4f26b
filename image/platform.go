package image

import (
	"errors"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultTaskRoot is where Lambda puts the function code when the base does
// not say otherwise through LAMBDA_TASK_ROOT.
const DefaultTaskRoot = "/var/task"

// Lambda's architecture names, in the order the CLI lists them.
var archNames = []string{"x86_64", "arm64"}

// PlatformFor maps a Lambda architecture name to the OCI platform Lambda
// runs it on.
func PlatformFor(arch string) (v1.Platform, error) {
	switch arch {
	case "x86_64":
		return v1.Platform{OS: "linux", Architecture: "amd64"}, nil
	case "arm64":
		return v1.Platform{OS: "linux", Architecture: "arm64"}, nil
	}
	return v1.Platform{}, fmt.Errorf("architecture %q: Lambda supports %s", arch, strings.Join(archNames, ", "))
}

// platformMatches ignores the arm64 variant: Lambda's Graviton hosts run
// any linux/arm64 image, and AWS's indexes label them "v8" or not at all.
func platformMatches(p *v1.Platform, want v1.Platform) bool {
	return p != nil && p.OS == want.OS && p.Architecture == want.Architecture
}

func platformString(p *v1.Platform) string {
	if p == nil {
		return "unknown"
	}
	s := p.OS + "/" + p.Architecture
	if p.Variant != "" {
		s += "/" + p.Variant
	}
	return s
}

// SelectPlatform returns the image Lambda would run for arch: from an index,
// the manifest for that platform; a single image is returned only when its
// config says it is that platform. Exactly one of idx and img must be non-nil.
func SelectPlatform(idx v1.ImageIndex, img v1.Image, arch string) (v1.Image, error) {
	want, err := PlatformFor(arch)
	if err != nil {
		return nil, err
	}
	switch {
	case (idx == nil) == (img == nil):
		return nil, errors.New("selecting platform: exactly one of index and image must be given")
	case img != nil:
		cf, err := img.ConfigFile()
		if err != nil {
			return nil, fmt.Errorf("reading base config: %w", err)
		}
		got := cf.Platform()
		if !platformMatches(got, want) {
			return nil, fmt.Errorf("base image is %s, but --arch %s needs %s (use a base for that platform or the other --arch)",
				platformString(got), arch, platformString(&want))
		}
		return img, nil
	}
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading base index: %w", err)
	}
	var available, nested []string
	for _, d := range im.Manifests {
		if d.MediaType.IsIndex() {
			// Not searched: which of several nested indexes is meant is
			// the user's call. Say what is there instead of "none".
			nested = append(nested, describeNestedIndex(idx, d))
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
		if platformMatches(p, want) {
			sub, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading base manifest %s for %s: %w", d.Digest, platformString(p), err)
			}
			return sub, nil
		}
		available = append(available, platformString(p))
	}
	sort.Strings(available)
	if len(available) == 0 {
		available = []string{"none"}
	}
	msg := fmt.Sprintf("base index has no %s image for --arch %s (available: %s)",
		platformString(&want), arch, strings.Join(available, ", "))
	if len(nested) > 0 {
		msg += "; it holds " + strings.Join(nested, "; ") +
			" (an index inside the index: use the nested index, by digest, as the base)"
	}
	return nil, errors.New(msg)
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
			plats = append(plats, platformString(m.Platform))
		}
	}
	if len(plats) == 0 {
		return s + " with no images"
	}
	sort.Strings(plats)
	return s + " with " + strings.Join(slices.Compact(plats), ", ")
}

// TaskRoot is where the function code goes: the base's LAMBDA_TASK_ROOT, or
// /var/task when the base does not set it.
func TaskRoot(img v1.Image) (string, error) {
	cf, err := img.ConfigFile()
	if err != nil {
		return "", fmt.Errorf("reading base config: %w", err)
	}
	root := envValue(cf.Config.Env, "LAMBDA_TASK_ROOT")
	if root == "" {
		return DefaultTaskRoot, nil
	}
	if !path.IsAbs(root) {
		return "", fmt.Errorf("base sets LAMBDA_TASK_ROOT=%q, which is not an absolute path", root)
	}
	return path.Clean(root), nil
}

// envValue returns the value of the last KEY=... entry, as a process sees it.
func envValue(env []string, key string) string {
	val := ""
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val = v
		}
	}
	return val
}

// family is the media-type family of a manifest: Lambda rejects manifests
// that mix Docker and OCI types, so added layers follow the base.
type family struct {
	name     string
	manifest types.MediaType
	layer    types.MediaType
}

func familyOf(mt types.MediaType) (family, error) {
	switch mt {
	case types.DockerManifestSchema2:
		return family{name: "docker", manifest: mt, layer: types.DockerLayer}, nil
	case types.OCIManifestSchema1:
		return family{name: "oci", manifest: mt, layer: types.OCILayer}, nil
	}
	return family{}, fmt.Errorf("base manifest media type %q: Lambda accepts only %s or %s",
		mt, types.DockerManifestSchema2, types.OCIManifestSchema1)
}
