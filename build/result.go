package build

import (
	"errors"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambda"
)

// LayerInfo describes one layer of the result, base layers included.
type LayerInfo struct {
	Digest           v1.Hash         `json:"digest"`
	DiffID           v1.Hash         `json:"diffID"`
	MediaType        types.MediaType `json:"mediaType"`
	Size             int64           `json:"size"`
	UncompressedSize int64           `json:"uncompressedSize"`
	// Kind is base, layer, code or bootstrap.
	Kind string `json:"kind"`
	// Source is the base reference, a layer's or the code's Source name, or
	// the bootstrap link.
	Source string `json:"source"`
	// Path is the input on disk for added layers.
	Path string `json:"path,omitempty"`
	// CacheHit reports that the layer came from the conversion cache.
	CacheHit bool `json:"cacheHit,omitempty"`
	// Reused is the previous image (Options.CacheFrom) the layer was
	// taken from instead of converting the input.
	Reused string `json:"reused,omitempty"`
	// ARN and CodeSha256 are set for a layer given as a layer version ARN.
	ARN        string `json:"arn,omitempty"`
	CodeSha256 string `json:"codeSha256,omitempty"`
}

// Result is a built and checked image, not yet written anywhere.
type Result struct {
	Image     v1.Image
	Digest    v1.Hash
	MediaType types.MediaType
	Platform  v1.Platform
	Arch      lambda.Arch
	// Base is the base reference ("" for Spec.BaseImage without a name),
	// BaseDigest the digest of the platform's base manifest.
	Base       string
	BaseDigest v1.Hash
	Handler    string
	// Size is the sum of the layers' compressed sizes; UncompressedSize
	// their uncompressed sizes, the number Lambda checks against its limit.
	Size             int64
	UncompressedSize int64
	ManifestSize     int64
	// Family is the runtime family the handler was checked for ("" if none).
	Family lambda.Family
	Layers []LayerInfo
	// Findings are every rule's findings (warnings only: a refusal is an
	// error from Build).
	Findings []checks.Finding
	// Warnings are the problems that do not stop a build, as sentences.
	Warnings []string
	// Provenance is what the image's provenance label records.
	Provenance *image.Provenance
	// Inputs are the files and directories the build read, for destinations
	// that must not overwrite them.
	Inputs []string

	closers []func() error
}

// Close releases temporary files (converted layers outside the cache,
// downloaded layer versions). Result.Image cannot be read after Close.
func (r *Result) Close() error {
	if r == nil {
		return nil
	}
	var errs []error
	for i := len(r.closers) - 1; i >= 0; i-- {
		errs = append(errs, r.closers[i]())
	}
	r.closers = nil
	return errors.Join(errs...)
}
