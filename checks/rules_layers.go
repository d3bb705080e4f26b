package checks

import (
	"archive/tar"
	"fmt"
	"path"
	"sort"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Lambda's own names for the failures these rules foresee (from its
// CreateFunction/UpdateFunctionCode errors and user reports; lambda.md).
const (
	lambdaUnsupportedMedia = "The image manifest, config or layer media type for the source image is not supported"
	lambdaUnsupportedLayer = "UnsupportedImageLayerDetected"
	lambdaMissingParent    = "MissingParentDirectory"
	lambdaInvalidEntry     = "Runtime.InvalidEntrypoint"
	lambdaPermission       = "Permission denied"
	lambdaImageTooLarge    = "image size exceeds the limit"
)

// gzipLayerType is the gzip layer media type of each manifest family;
// Lambda refuses manifests that mix Docker and OCI types.
func gzipLayerTypes(manifest types.MediaType) []types.MediaType {
	switch manifest {
	case types.DockerManifestSchema2:
		return []types.MediaType{types.DockerLayer, types.DockerForeignLayer}
	case types.OCIManifestSchema1:
		return []types.MediaType{types.OCILayer, types.OCIRestrictedLayer}
	}
	return nil
}

// mediaTypes: one single-platform manifest of a type Lambda accepts, with
// gzip layers of the same family.
func mediaTypes(c *check) []Finding {
	mt := c.img.MediaType
	want := gzipLayerTypes(mt)
	if want == nil {
		return []Finding{{Rule: RuleMediaType, Severity: Refuse, LambdaError: lambdaUnsupportedMedia,
			Message: fmt.Sprintf("manifest media type %q: Lambda accepts one single-platform manifest, %s or %s", mt, types.DockerManifestSchema2, types.OCIManifestSchema1),
			Hint:    "push a single-platform image: no index, no attestations (docker buildx: --provenance=false --sbom=false)"}}
	}
	var out []Finding
	for i, l := range c.img.Layers {
		ok := false
		for _, w := range want {
			ok = ok || l.MediaType == w
		}
		if ok {
			continue
		}
		out = append(out, c.layerFinding(i, Finding{Rule: RuleMediaType, Severity: Refuse, LambdaError: lambdaUnsupportedMedia,
			Message: fmt.Sprintf("layer media type %q in a %s manifest: Lambda accepts only gzip layers of the manifest's own family (%s)", l.MediaType, mt, want[0])}))
	}
	return out
}

// compression: the layer bytes really are gzip, whatever the media type says.
func compression(c *check) []Finding {
	var out []Finding
	for i, l := range c.img.Layers {
		if !l.Listed() || l.Listing.Compression == Gzip {
			continue
		}
		rule := RuleUncompressedLayer
		if l.Listing.Compression == Zstd {
			rule = RuleZstdLayer
		}
		out = append(out, c.layerFinding(i, Finding{Rule: rule, Severity: Refuse, LambdaError: lambdaUnsupportedLayer,
			Message: fmt.Sprintf("layer content is %s, labelled %q: Lambda accepts only gzip-compressed layers", describeCompression(l.Listing.Compression), l.MediaType),
			Hint:    "recompress the layer with gzip"}))
	}
	return out
}

func describeCompression(c Compression) string {
	if c == Plain {
		return "an uncompressed tar"
	}
	return string(c) + "-compressed"
}

// diffIDs: the config's rootfs.diff_ids name every layer's content, in order.
func diffIDs(c *check) []Finding {
	if c.img.Config == nil {
		return nil
	}
	declared := c.img.Config.RootFS.DiffIDs
	if len(declared) != len(c.img.Layers) {
		return []Finding{{Rule: RuleDiffIDs, Severity: Refuse,
			Message: fmt.Sprintf("the config lists %d diff_ids for %d layers", len(declared), len(c.img.Layers))}}
	}
	var out []Finding
	for i, l := range c.img.Layers {
		if !l.Listed() || l.Listing.DiffID == declared[i] {
			continue
		}
		err := &DigestMismatchError{What: "diffID", Declared: declared[i], Actual: l.Listing.DiffID}
		out = append(out, c.layerFinding(i, Finding{Rule: RuleDiffIDs, Severity: Refuse, Err: err,
			Message: fmt.Sprintf("uncompressed content does not match the config's diff_ids[%d]: the content is %s, the config says %s", i, l.Listing.DiffID, declared[i])}))
	}
	return out
}

// parentDirs: every entry's parent directories have their own entries in
// the same layer; Lambda's unpacker does not create them.
func parentDirs(c *check) []Finding {
	var out []Finding
	for i, l := range c.img.Layers {
		if !l.Listed() {
			continue
		}
		dirs := map[string]bool{}
		for _, e := range l.Listing.Entries {
			if e.Type == tar.TypeDir {
				dirs[e.Path] = true
			}
		}
		missing := map[string]bool{}
		for _, e := range l.Listing.Entries {
			for d := path.Dir(e.Path); d != "." && d != "/"; d = path.Dir(d) {
				if !dirs[d] {
					missing["/"+d] = true
				}
			}
		}
		if len(missing) == 0 {
			continue
		}
		ps := sortedKeys(missing)
		out = append(out, c.layerFinding(i, Finding{Rule: RuleParentDirs, Severity: Refuse, LambdaError: lambdaMissingParent, Path: ps[0],
			Message: fmt.Sprintf("%d director(ies) have entries below them but no entry of their own in this layer:%s", len(ps), listPaths(ps)),
			Hint:    "rebuild the layer so every parent directory has its own tar entry (tar without --no-recursion; rules_oci/nix/hand-made tars often omit them)"}))
	}
	return out
}

// hardLinks: Lambda refuses layers with hard link entries.
func hardLinks(c *check) []Finding {
	var out []Finding
	for i, l := range c.img.Layers {
		if !l.Listed() {
			continue
		}
		var ps []string
		for _, e := range l.Listing.Entries {
			if e.Type == tar.TypeLink {
				ps = append(ps, "/"+e.Path+" => /"+cleanName(e.Link))
			}
		}
		if len(ps) == 0 {
			continue
		}
		out = append(out, c.layerFinding(i, Finding{Rule: RuleHardLinks, Severity: Refuse, LambdaError: lambdaUnsupportedLayer, Path: firstPath(ps),
			Message: fmt.Sprintf("%d hard link entr(ies):%s", len(ps), listPaths(ps)),
			Hint:    "rebuild the layer with hard-linked files stored as regular files"}))
	}
	return out
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func firstPath(ps []string) string {
	p := ps[0]
	for i := range len(p) {
		if p[i] == ' ' {
			return p[:i]
		}
	}
	return p
}
