// Package image composes a Lambda-ready image: it picks the platform out of a
// base, appends the converted layers (/opt in order, then the code at the task
// root), sets the config (CMD = [handler], ENV) and runs Lambda's checks (size,
// media types, handler, architecture of native code) before anything is
// written or pushed. It does no network I/O of its own: the base is handed in
// as a go-containerregistry value (reading a lazily fetched base's layers to
// measure them is the base's own I/O).
//
// API CONTRACT (other packages code against this; keep signatures stable):
//
//	func PlatformFor(arch string) (v1.Platform, error)            // "x86_64" -> linux/amd64, "arm64" -> linux/arm64
//	func SelectPlatform(idx v1.ImageIndex, img v1.Image, arch string) (v1.Image, error) // exactly one of idx/img non-nil
//	func TaskRoot(img v1.Image) (string, error)                   // LAMBDA_TASK_ROOT or /var/task
//	func Build(ctx context.Context, opts Options) (*Result, error)
//	func Runtimes() []Runtime; func LookupRuntime(id string) (Runtime, error)
//	func BaseRef(rt Runtime, arch string) string                  // per-arch tag of the runtime's base
package image

import (
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// DefaultMaxSize is Lambda's limit on the uncompressed size of all layers,
// base included: 10 GiB.
const DefaultMaxSize int64 = 10 << 30

// ManifestSizeAdvice is the manifest size above which AWS says pulls slow
// down; exceeding it is a warning.
const ManifestSizeAdvice = 25400

// Source is one input to convert: a .zip file or a directory.
type Source struct {
	// Path is the zip file or directory on disk.
	Path string
	// Name is how the source is shown in the image history, the JSON result
	// and errors (a file name, a layer version ARN). It is part of the
	// image digest, so callers pass something that does not depend on
	// where the checkout lives. Defaults to the base name of Path.
	Name string
}

func (s Source) name() string {
	if s.Name != "" {
		return s.Name
	}
	return baseName(s.Path)
}

// Options describe one build. Base, Arch, Code and Handler are required.
type Options struct {
	// Base is the single-platform base image (see SelectPlatform).
	Base v1.Image
	// BaseName names the base in tables and JSON, e.g. its reference. An
	// AWS base reference (…/lambda/python:3.12) also tells the runtime family.
	BaseName string
	// Arch is Lambda's architecture name: x86_64 or arm64.
	Arch string
	// Runtime is an optional Lambda runtime id; it selects the handler
	// check. Without it the family comes from Family, then BaseName, then
	// the base's own files (/var/lang/bin/python3.12 -> python).
	Runtime string
	// Family overrides the handler convention: python, nodejs, ruby,
	// dotnet, java, provided.
	Family string
	// Layers are Lambda layer zips, extracted in order under /opt.
	Layers []Source
	// Code is the function code, a zip or a directory, put at the task root.
	Code Source
	// Handler becomes CMD, the one argument /lambda-entrypoint.sh takes.
	Handler string
	// Env entries KEY=VALUE are added to the base's ENV (replacing a key
	// the base sets).
	Env []string
	// MaxSize bounds the uncompressed size of all layers (DefaultMaxSize if 0).
	MaxSize int64
	// AllowArchMismatch turns the native-code architecture check into a warning.
	AllowArchMismatch bool
	// Created is the config's creation time and every new file's mtime;
	// zero means SOURCE_DATE_EPOCH if set, else DefaultCreated.
	Created time.Time
	// CacheDir holds converted layers (layerconv's cache, under
	// layerconv/) and layer scans: one small JSON file per layer digest
	// under layer-scan/v1/ with the uncompressed size and the paths the
	// checks need. Empty disables caching.
	CacheDir string
	// Warn receives each warning as it is found (also in Result.Warnings).
	Warn func(string)
}

// LayerInfo describes one layer of the result, base layers included.
type LayerInfo struct {
	Digest           v1.Hash         `json:"digest"`
	DiffID           v1.Hash         `json:"diffID"`
	MediaType        types.MediaType `json:"mediaType"`
	Size             int64           `json:"size"`
	UncompressedSize int64           `json:"uncompressedSize"`
	// Source is "base", a layer's or the code's Source name, or "bootstrap".
	Source string `json:"source"`
	// Kind is base, layer, code or bootstrap.
	Kind string `json:"kind"`
	// Path is the input on disk for added layers.
	Path string `json:"path,omitempty"`
	// CacheHit reports that the layer came from the conversion cache.
	CacheHit bool `json:"cacheHit,omitempty"`
	// Declared marks an input that was never converted (in a SizeError
	// only): UncompressedSize is what its entries declare, Digest and Size
	// are unknown, DeclaredNote says why.
	Declared     bool   `json:"declared,omitempty"`
	DeclaredNote string `json:"declaredNote,omitempty"`
}

// Result is a built image, not yet written anywhere.
type Result struct {
	Image     v1.Image
	Digest    v1.Hash
	MediaType types.MediaType
	Platform  v1.Platform
	// Size is the sum of the layers' compressed sizes.
	Size int64
	// UncompressedSize is the sum of the layers' uncompressed sizes, the
	// number Lambda checks against its 10 GiB limit.
	UncompressedSize int64
	ManifestSize     int64
	// Family is the runtime family the handler was checked for ("" if none).
	Family string
	Layers []LayerInfo
	// Warnings are the problems that do not stop a build.
	Warnings []string

	closer func() error
}
