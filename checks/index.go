package checks

import (
	"fmt"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// Docker buildx marks its provenance and SBOM manifests in an index with
// this annotation (and an unknown/unknown platform).
const (
	referenceTypeAnnotation = "vnd.docker.reference.type"
	attestationManifest     = "attestation-manifest"
)

// IndexEntry is one manifest an index lists.
type IndexEntry struct {
	Digest    v1.Hash         `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	// Platform is the descriptor's, else the config's; nil when neither
	// says.
	Platform *v1.Platform `json:"platform,omitempty"`
	// Attestation marks buildx provenance/SBOM manifests, which are not
	// images anything runs.
	Attestation bool `json:"attestation,omitempty"`
}

// Index is the index (manifest list) a reference named, when it named one.
type Index struct {
	Digest    v1.Hash         `json:"digest"`
	MediaType types.MediaType `json:"mediaType"`
	Manifests []IndexEntry    `json:"manifests"`
}

// Runnable are the entries that are images for some platform: not
// attestations, not nested indexes.
func (x *Index) Runnable() []IndexEntry {
	var out []IndexEntry
	for _, e := range x.Manifests {
		if !e.Attestation && e.MediaType.IsImage() {
			out = append(out, e)
		}
	}
	return out
}

// describe renders the index's contents for a message: "linux/amd64,
// linux/arm64 and 2 attestation manifest(s)".
func (x *Index) describe() string {
	var parts []string
	att, nested := 0, 0
	for _, e := range x.Manifests {
		switch {
		case e.Attestation:
			att++
		case e.MediaType.IsIndex():
			nested++
		default:
			parts = append(parts, lambda.PlatformString(e.Platform))
		}
	}
	if att > 0 {
		parts = append(parts, fmt.Sprintf("%d attestation manifest(s)", att))
	}
	if nested > 0 {
		parts = append(parts, fmt.Sprintf("%d nested index(es)", nested))
	}
	if len(parts) == 0 {
		return "no manifests"
	}
	return joinAnd(parts)
}

// ReadIndex describes an index: every manifest with its platform (read from
// its config when the descriptor has none) and whether it is an attestation.
func ReadIndex(idx v1.ImageIndex) (*Index, error) {
	im, err := idx.IndexManifest()
	if err != nil {
		return nil, fmt.Errorf("reading index manifest: %w", err)
	}
	x := &Index{MediaType: im.MediaType}
	if x.Digest, err = idx.Digest(); err != nil {
		return nil, fmt.Errorf("index digest: %w", err)
	}
	if x.MediaType == "" {
		if x.MediaType, err = idx.MediaType(); err != nil {
			return nil, fmt.Errorf("index media type: %w", err)
		}
	}
	for _, d := range im.Manifests {
		e := IndexEntry{Digest: d.Digest, MediaType: d.MediaType, Platform: d.Platform,
			Attestation: d.Annotations[referenceTypeAnnotation] == attestationManifest}
		if e.Platform != nil && e.Platform.OS == "unknown" {
			// buildx gives attestations unknown/unknown; some tools forget
			// the annotation.
			e.Attestation = true
		}
		if e.Platform == nil && d.MediaType.IsImage() {
			sub, err := idx.Image(d.Digest)
			if err != nil {
				return nil, fmt.Errorf("reading manifest %s: %w", d.Digest, err)
			}
			cf, err := sub.ConfigFile()
			if err != nil {
				return nil, fmt.Errorf("reading config of manifest %s: %w", d.Digest, err)
			}
			e.Platform = cf.Platform()
		}
		x.Manifests = append(x.Manifests, e)
	}
	return x, nil
}

// Select picks the manifest Lambda would run for arch; with arch "" the
// only runnable one. ok is false when there is none, or several and no
// arch to choose.
func (x *Index) Select(arch lambda.Arch) (IndexEntry, bool) {
	run := x.Runnable()
	if arch == "" {
		if len(run) == 1 {
			return run[0], true
		}
		return IndexEntry{}, false
	}
	for _, e := range run {
		if arch.Runs(e.Platform) {
			return e, true
		}
	}
	return IndexEntry{}, false
}

// indexRule: Lambda accepts only a single-platform manifest, never an index.
func indexRule(c *check) []Finding {
	x := c.img.Index
	if x == nil {
		return nil
	}
	return []Finding{indexFinding(x, fmt.Sprintf("the reference names an index (%s) listing %s: Lambda accepts only a single-platform manifest", x.MediaType, x.describe()))}
}

func indexFinding(x *Index, msg string) Finding {
	return Finding{Rule: RuleIndex, Severity: Refuse, LambdaError: lambdaUnsupportedMedia, Message: msg,
		Hint: "deploy the platform manifest by its digest, or push a single-platform image (docker buildx: --provenance=false --sbom=false)"}
}

// unselectable is the verdict on an index none of whose manifests can be
// checked: several platforms and no architecture to choose, or none for
// the one asked.
func unselectable(x *Index, arch lambda.Arch) []Finding {
	fs := []Finding{indexFinding(x, fmt.Sprintf("the reference names an index (%s) listing %s: Lambda accepts only a single-platform manifest", x.MediaType, x.describe()))}
	if arch == "" {
		fs[0].Message += "; name an architecture to check one of its platforms"
		return fs
	}
	want := arch.Platform()
	fs = append(fs, Finding{Rule: RulePlatform, Severity: Refuse,
		Message: fmt.Sprintf("the index has no %s image for architecture %s (it lists %s)", lambda.PlatformString(&want), arch, x.describe())})
	return fs
}

// hasPrefixDir reports whether p is dir or below it.
func hasPrefixDir(p, dir string) bool {
	return p == dir || strings.HasPrefix(p, strings.TrimSuffix(dir, "/")+"/")
}

// joinAnd joins "a", "b" and "c" as "a, b and c".
func joinAnd(ps []string) string {
	if len(ps) < 2 {
		return strings.Join(ps, "")
	}
	return strings.Join(ps[:len(ps)-1], ", ") + " and " + ps[len(ps)-1]
}
