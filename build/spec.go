// Package build turns a Spec — a base, Lambda layers, function code, a
// handler — into a checked, Lambda-ready image: it resolves the inputs
// (zip files, directories, layer version ARNs), fetches the base, converts
// the inputs into layers, stacks them on the base and runs every Lambda rule
// (package checks) over the whole image, base included. It prints nothing:
// what it has to say leaves as Events and in the Result.
package build

import (
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/registry"
)

// Source is one input: a .zip file, a directory, or (for layers) a Lambda
// layer version ARN.
type Source struct {
	// Path is the zip file, the directory, or the layer version ARN.
	Path string
	// Name is how the source is shown in the image history, the result and
	// errors. It is part of the image digest, so it must not depend on
	// where a checkout lives. Defaults to the base name of Path (the ARN
	// itself for an ARN).
	Name string
}

func (s Source) name() string {
	if s.Name != "" {
		return s.Name
	}
	if lambdaapi.IsLayerARN(s.Path) {
		return s.Path
	}
	return filepath.Base(filepath.Clean(s.Path))
}

// Spec is what to build, independent of where it goes.
type Spec struct {
	// Runtime is a Lambda runtime id ("python3.12"): it picks the base when
	// Base is empty, and the handler convention either way.
	Runtime string
	// Base is an image reference or oci:PATH[:TAG].
	Base string
	// BaseImage is a base already in hand; it wins over Base, which then
	// only names it.
	BaseImage v1.Image
	// Arch is the function's architecture (x86_64, arm64, or an alias);
	// "" is Lambda's default, x86_64.
	Arch string
	// Layers are Lambda layers, extracted in order at /opt.
	Layers []Source
	// Code is the function code, put at the task root.
	Code Source
	// Handler becomes CMD, the one argument the Lambda entrypoint takes.
	Handler string
	// Env entries KEY=VALUE are added to the base's (replacing a key the
	// base sets).
	Env []string
	// MaxSize bounds the uncompressed size of the whole image
	// (lambda.MaxImageSize if 0).
	MaxSize int64
	// AllowArchMismatch reports native code built for another architecture
	// as a warning instead of refusing the image.
	AllowArchMismatch bool
	// CodeLayers is how many layers the code may become: 2 (or 0, the
	// default) puts vendored dependencies in a layer of their own when the
	// split is unambiguous (see split.go), 1 keeps the code one layer.
	CodeLayers int
	// Created is the config's creation time and every new file's mtime;
	// zero means SOURCE_DATE_EPOCH if set, else the Unix epoch.
	Created time.Time
	// NoPycRewrite leaves every .pyc in the converted inputs byte for byte
	// (layerconv.Options.NoPycRewrite): the .pyc files valid in a zip are
	// then stale in the image, which is what a comparison needs.
	NoPycRewrite bool
}

// Options are how to build: caches, credentials, where events go.
type Options struct {
	// CacheDir is the cache root (see Cache); empty disables caching.
	CacheDir string
	// Registry configures fetching the base (keychain, transport, retries).
	Registry registry.Options
	// Lambda configures fetching layer version ARNs (AWS config, endpoint).
	// Its CacheDir is set from CacheDir when empty.
	Lambda lambdaapi.Options
	// Getenv reads SOURCE_DATE_EPOCH; nil means os.Getenv.
	Getenv func(string) string
	// Events receives what the build has to say as it goes; nil discards.
	Events func(Event)
	// Version is the lambda-oci version the image's provenance records:
	// a release's version, or "" for DevelVersion. It is part of the
	// image config, so it must not vary between builds meant to match.
	Version string
	// CacheFrom are images a previous build pushed (REGISTRY/REPO:TAG or
	// @DIGEST), read for what their provenance label records: a build on
	// an empty cache then reuses the layers they hold for inputs that did
	// not change, and the sizes of the same base, instead of converting
	// and downloading (see regcache.go). An image that is missing or
	// does not qualify only costs its two requests. Publish defaults it to
	// the tags it pushes.
	CacheFrom []string
	// NoCacheFrom turns that default off.
	NoCacheFrom bool
	// Shared, when set, is work shared with the other Builds of the process
	// (bases, base layer measurements, layer versions, conversions); the
	// caller closes it after them. Nil: every Build does its own.
	Shared *Shared

	// stage, set by Publish when the destination takes blobs early,
	// uploads blobs while the build runs (stage.go).
	stage *stage
}

// EventKind says what an Event is.
type EventKind int

const (
	// Info is progress worth a log line ("fetching base ...").
	Info EventKind = iota
	// Warning is a problem that does not stop the build (also in
	// Result.Warnings).
	Warning
)

// Event is one thing the build reports while it runs.
type Event struct {
	Kind    EventKind
	Message string
}
