package image

import (
	"encoding/json"
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Provenance is what an image records about how it was made, in one config
// label (ProvenanceLabel) as JSON: the base it was built on, layer by
// layer; each added layer with the identity of its source and the layer it
// became; the handler; the environment names the build set; the runtime
// family; the lambda-oci version and the converter's. It serves three
// readers: people (check prints it), rebase (which verifies the base
// layers against it) and a later build that treats the registry as its
// cache (same source identity, same converter: the recorded layer can be
// reused without converting, and the base's sizes without measuring).
//
// Every field is a pure function of the build's inputs, so the label keeps
// the image deterministic. Field order is the JSON keys' alphabetical
// order, so the encoding is sorted JSON without a map.
type Provenance struct {
	// AllowArchMismatch records that the build let native code for
	// another architecture through as a warning: a later build reuses this
	// image's layers without looking into them only if it allows it too.
	AllowArchMismatch bool           `json:"allowArchMismatch,omitempty"`
	Base              BaseProvenance `json:"base"`
	// Builder is "lambda-oci VERSION": a release's version, or "(devel)"
	// for anything else (checkouts, tests), so a dev build and a test
	// give the same digests.
	Builder string `json:"builder"`
	// Converter is layerconv.ConverterVersion(): the added layers'
	// digests depend on it as much as on the sources.
	Converter string `json:"converter,omitempty"`
	// Env are the names of the variables the build set (their values are
	// in the config's Env), in the order given: rebase re-applies them
	// over another base's.
	Env []string `json:"env,omitempty"`
	// Handler is CMD's one element.
	Handler string            `json:"handler"`
	Layers  []ProvenanceLayer `json:"layers"`
	// NoPycRewrite records that .pyc files were kept byte for byte: the
	// added layers' bytes depend on it.
	NoPycRewrite bool               `json:"noPycRewrite,omitempty"`
	Runtime      *ProvenanceRuntime `json:"runtime,omitempty"`
	// Schema is ProvenanceSchema.
	Schema int `json:"schema"`
}

// ProvenanceSchema is the label format's version; a reader refuses others.
const ProvenanceSchema = 1

// ProvenanceLabel is the config label holding the Provenance JSON.
const ProvenanceLabel = "dev.lambda-oci.provenance"

// The OCI annotations (image-spec annotations.md) naming the base, set on
// OCI manifests only: a Docker schema 2 manifest has no annotations field.
const (
	AnnotationBaseName   = "org.opencontainers.image.base.name"
	AnnotationBaseDigest = "org.opencontainers.image.base.digest"
)

// BaseProvenance is the base an image was built on.
type BaseProvenance struct {
	// Bootstrap records that the base has lambda.RuntimeBootstrap: whether
	// the build links the code's bootstrap there depends on it, and a
	// build reusing the base's recorded sizes does not list the base.
	Bootstrap bool `json:"bootstrap,omitempty"`
	// Digest is the base's platform manifest.
	Digest string `json:"digest"`
	// Layers are the base's layers in order: the image's first layers
	// must be exactly these.
	Layers []ProvenanceBaseLayer `json:"layers"`
	// Name is the base reference as given; an OCI layout on disk is named
	// oci:DIRNAME[:TAG] (its base name only: the path is the machine's,
	// not the image's).
	Name string `json:"name,omitempty"`
}

// ProvenanceBaseLayer is one base layer and its uncompressed size (what
// the 10 GiB limit counts, which registries do not record).
type ProvenanceBaseLayer struct {
	Digest string `json:"digest"`
	Size   int64  `json:"size"`
}

// ProvenanceLayer is one added layer: where it came from and what it is.
// The source's identity is one of SHA256 (a zip file), ARN with
// CodeSha256 (a layer version), Tree (a directory) or, for the bootstrap
// link, Source itself.
type ProvenanceLayer struct {
	ARN        string `json:"arn,omitempty"`
	CodeSha256 string `json:"codeSha256,omitempty"`
	DiffID     string `json:"diffID"`
	Digest     string `json:"digest"`
	// Kind is layer, code or bootstrap.
	Kind string `json:"kind"`
	// SHA256 is the hex sha256 of a zip file.
	SHA256 string `json:"sha256,omitempty"`
	// Size is the uncompressed size.
	Size int64 `json:"size"`
	// Source is the input's name as the history shows it.
	Source string `json:"source"`
	// Tree is a directory's content hash (see build.TreeHash).
	Tree string `json:"tree,omitempty"`
}

// ProvenanceRuntime is the runtime family the handler was checked for.
type ProvenanceRuntime struct {
	// Detected records that the family was told by the base's own files
	// (no runtime id, not an AWS base reference): a build that reuses the
	// base's recorded sizes does not list those files.
	Detected bool   `json:"detected,omitempty"`
	Family   string `json:"family"`
	Version  string `json:"version,omitempty"`
}

// Encode is the label's value.
func (p *Provenance) Encode() (string, error) {
	b, err := json.Marshal(p)
	if err != nil {
		return "", fmt.Errorf("provenance: %w", err)
	}
	return string(b), nil
}

// ReadProvenance parses the provenance label of a config; nil, nil when
// the image has none (not built by lambda-oci, or before it recorded one).
func ReadProvenance(cf *v1.ConfigFile) (*Provenance, error) {
	if cf == nil {
		return nil, nil
	}
	s, ok := cf.Config.Labels[ProvenanceLabel]
	if !ok {
		return nil, nil
	}
	var p Provenance
	if err := json.Unmarshal([]byte(s), &p); err != nil {
		return nil, fmt.Errorf("label %s: %w", ProvenanceLabel, err)
	}
	if p.Schema != ProvenanceSchema {
		return nil, fmt.Errorf("label %s: schema %d: this lambda-oci reads schema %d", ProvenanceLabel, p.Schema, ProvenanceSchema)
	}
	return &p, nil
}

// WithProvenance returns labels plus the provenance label (labels itself
// is not changed).
func WithProvenance(labels map[string]string, p *Provenance) (map[string]string, error) {
	s, err := p.Encode()
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(labels)+1)
	for k, v := range labels {
		out[k] = v
	}
	out[ProvenanceLabel] = s
	return out, nil
}

// AnnotateBase sets the base annotations on an OCI manifest; a Docker
// schema 2 manifest is returned as it is. Docker's schema has no
// annotations field: go-containerregistry would write one anyway, and
// what registries and Lambda do with an unknown manifest field is not
// something to find out at deploy time. The config label carries the same
// facts for both families. An empty name (an OCI layout base, which has no
// reference) leaves base.name out.
func AnnotateBase(img v1.Image, fam Family, name, digest string) (v1.Image, error) {
	if fam.Manifest != types.OCIManifestSchema1 || digest == "" {
		return img, nil
	}
	anns := map[string]string{AnnotationBaseDigest: digest}
	if name != "" {
		anns[AnnotationBaseName] = name
	}
	out, ok := mutate.Annotations(img, anns).(v1.Image)
	if !ok {
		return nil, fmt.Errorf("annotating manifest: not an image")
	}
	return out, nil
}
