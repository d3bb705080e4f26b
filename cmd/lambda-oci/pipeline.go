package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/layerconv"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// defaultImageName names an image written only to an OCI layout or a
// tarball (no --tag): podman and skopeo load it under this name.
const defaultImageName = "localhost/lambda-function:latest"

// outputFlags are where a built image goes; build and migrate share them.
type outputFlags struct {
	ociLayout string
	tarball   string
	tags      []string
	json      bool
}

func (o *outputFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.ociLayout, "oci-layout", "", "write the image to an OCI image layout `DIR` (named after the first --tag, else "+defaultImageName+")")
	fs.StringVar(&o.tarball, "tarball", "", "write a `FILE` that docker load / podman load read")
	fs.StringArrayVar(&o.tags, "tag", nil, "push to `REGISTRY/REPO:TAG` (repeatable)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object describing the image instead of the reference")
}

// validate cleans the output paths (a trailing slash would make "DIR/" its
// own parent) and refuses, before anything is fetched or written, outputs
// that cannot be written: a tarball path that is a directory, a layout
// path that is a file or a non-empty directory that is not a layout, a
// parent that is a file, two outputs on one path.
func (o *outputFlags) validate() error {
	if o.ociLayout == "" && o.tarball == "" && len(o.tags) == 0 {
		return errors.New("no output: pass --oci-layout DIR, --tarball FILE and/or --tag REF")
	}
	for _, t := range o.tags {
		if _, err := name.NewTag(t); err != nil {
			return fmt.Errorf("--tag %q: %w", t, err)
		}
	}
	o.ociLayout = cleanPath(o.ociLayout)
	o.tarball = cleanPath(o.tarball)
	return o.check(nil)
}

func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Clean(p)
}

// publisher is every requested output, the registry last: a push cannot
// be undone, so it happens only once the local outputs are written.
func (o outputFlags) publisher(ropts registry.Options, a *app) publish.Publisher {
	var ps []publish.Publisher
	if o.ociLayout != "" {
		ps = append(ps, logged{publish.Layout(o.ociLayout, o.imageName()), a, fmt.Sprintf("wrote OCI layout %s (%s)", o.ociLayout, o.imageName())})
	}
	if o.tarball != "" {
		ps = append(ps, logged{publish.Tarball(o.tarball, o.imageName()), a, fmt.Sprintf("wrote tarball %s (%s)", o.tarball, o.imageName())})
	}
	if len(o.tags) > 0 {
		ps = append(ps, publish.Registry(o.tags, ropts))
	}
	return publish.Multi(ps...)
}

// check refuses outputs that cannot be written, or that are one of the
// inputs, naming the flag that gave the path.
func (o outputFlags) check(inputs []string) error {
	err := o.publisher(registry.Options{}, nil).Check(inputs)
	var pe *publish.PathError
	if errors.As(err, &pe) {
		flag := "--tarball"
		if pe.Path == o.ociLayout {
			flag = "--oci-layout"
		}
		return fmt.Errorf("%s %s: %w", flag, pe.Path, pe.Err)
	}
	return err
}

// logged says on stderr what a publisher wrote, as soon as it is written.
type logged struct {
	publish.Publisher
	a   *app
	msg string
}

// Path keeps Multi's check that no two outputs share a path.
func (l logged) Path() string {
	if p, ok := l.Publisher.(interface{ Path() string }); ok {
		return p.Path()
	}
	return ""
}

func (l logged) Publish(ctx context.Context, img v1.Image) (*publish.Publication, error) {
	p, err := l.Publisher.Publish(ctx, img)
	if err == nil && l.a != nil {
		logf(l.a, "%s", l.msg)
	}
	return p, err
}

// imageName is the full name recorded in the layout and the tarball.
func (o outputFlags) imageName() string {
	if len(o.tags) > 0 {
		return o.tags[0]
	}
	return defaultImageName
}

// buildSpec is what to build, independent of where it goes.
type buildSpec struct {
	// Runtime is a Lambda runtime id; it picks the base when Base is empty
	// and the handler convention either way.
	Runtime string
	// Base is an image reference or oci:PATH[:TAG].
	Base              string
	Arch              string
	Layers            []image.Source
	Code              image.Source
	Handler           string
	Env               []string
	MaxSize           int64
	AllowArchMismatch bool
	// CacheDir is empty for no cache.
	CacheDir string
	// Created is zero for SOURCE_DATE_EPOCH (read through app.getenv) or
	// the fixed default.
	Created time.Time
}

// inputs are the files and directories the build reads, which no output
// may overwrite.
func (s buildSpec) inputs() []string {
	var in []string
	for _, l := range s.Layers {
		in = append(in, l.Path)
	}
	if s.Code.Path != "" {
		in = append(in, s.Code.Path)
	}
	return in
}

// baseRef resolves the base reference: --base, else the runtime's AWS image.
func (s buildSpec) baseRef(a *app) (string, error) {
	if s.Base != "" {
		if s.Runtime != "" {
			if _, err := image.LookupRuntime(s.Runtime); errors.Is(err, image.ErrDeprecatedRuntime) {
				logf(a, "warning: %v", err)
			}
		}
		return s.Base, nil
	}
	if s.Runtime == "" {
		return "", errors.New("no base: pass --runtime ID (see `lambda-oci runtimes`) or --base REF")
	}
	rt, err := image.LookupRuntime(s.Runtime)
	if err != nil {
		return "", err
	}
	ref := image.BaseRef(rt, s.Arch)
	if ref == "" {
		_, err := image.PlatformFor(s.Arch)
		return "", err
	}
	return ref, nil
}

// layerJSON is one layer in the JSON result.
type layerJSON struct {
	Digest           string `json:"digest"`
	MediaType        string `json:"mediaType"`
	Size             int64  `json:"size"`
	UncompressedSize int64  `json:"uncompressedSize"`
	Kind             string `json:"kind"`
	Source           string `json:"source"`
	Path             string `json:"path,omitempty"`
	CacheHit         bool   `json:"cacheHit,omitempty"`
	// Push is what the push did with the blob: pushed, exists or mounted.
	Push string `json:"push,omitempty"`
}

// buildOutput is the result of a build: the JSON object --json prints.
type buildOutput struct {
	Reference        string      `json:"reference"`
	Digest           string      `json:"digest"`
	MediaType        string      `json:"mediaType"`
	Platform         string      `json:"platform"`
	Arch             string      `json:"arch"`
	Base             string      `json:"base"`
	BaseDigest       string      `json:"baseDigest"`
	Handler          string      `json:"handler"`
	Size             int64       `json:"size"`
	UncompressedSize int64       `json:"uncompressedSize"`
	ManifestSize     int64       `json:"manifestSize"`
	Layers           []layerJSON `json:"layers"`
	OCILayout        string      `json:"ociLayout,omitempty"`
	Tarball          string      `json:"tarball,omitempty"`
	Tags             []string    `json:"tags,omitempty"`
	// Pushed are REPO@sha256:… for every pushed repository.
	Pushed []string `json:"pushed,omitempty"`
	// ConfigPush is what the push did with the config blob.
	ConfigPush string   `json:"configPush,omitempty"`
	Warnings   []string `json:"warnings"`
}

// buildAndEmit is the whole build: fetch the base, pick the platform, build
// and check, then write or push every requested output and print the result
// on stdout. Nothing is written or pushed unless every check passed.
func buildAndEmit(ctx context.Context, a *app, spec buildSpec, out outputFlags, push pushFlags) (_ *buildOutput, err error) {
	if err := out.validate(); err != nil {
		return nil, err
	}
	if err := out.check(spec.inputs()); err != nil {
		return nil, err
	}
	if err := push.validate(); err != nil {
		return nil, err
	}
	if _, err := image.PlatformFor(spec.Arch); err != nil {
		return nil, err
	}
	ref, err := spec.baseRef(a)
	if err != nil {
		return nil, err
	}
	if spec.Created.IsZero() {
		if spec.Created, err = image.CreatedFromEnv(a.getenv); err != nil {
			return nil, err
		}
	}
	ropts := push.options(a)
	if err := checkLocalBase(ref); err != nil {
		return nil, err
	}
	logf(a, "fetching base %s", ref)
	base, err := registry.FetchBase(ctx, ref, ropts)
	if err != nil {
		if isLocalDir(ref) {
			return nil, fmt.Errorf("base %s: %w\n  (%s is a local directory: for an OCI layout use oci:%s)", ref, err, ref, ref)
		}
		return nil, fmt.Errorf("base %s: %w", ref, err)
	}
	baseImg, err := image.SelectPlatform(base.Index, base.Image, spec.Arch)
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", ref, err)
	}
	baseDigest, err := baseImg.Digest()
	if err != nil {
		return nil, fmt.Errorf("base %s: %w", ref, err)
	}
	res, err := image.Build(ctx, image.Options{
		Base: baseImg, BaseName: ref, Arch: spec.Arch, Runtime: spec.Runtime,
		Layers: spec.Layers, Code: spec.Code, Handler: spec.Handler, Env: spec.Env,
		MaxSize: spec.MaxSize, AllowArchMismatch: spec.AllowArchMismatch,
		Created: spec.Created, CacheDir: spec.CacheDir,
		Warn: func(msg string) { logf(a, "warning: %s", msg) },
	})
	if err != nil {
		return nil, err
	}
	defer res.Close()

	imgName := out.imageName()
	nameRef, err := name.ParseReference(imgName)
	if err != nil {
		return nil, fmt.Errorf("image name %q: %w", imgName, err)
	}
	result := &buildOutput{
		Reference: nameRef.Context().Name() + "@" + res.Digest.String(),
		Digest:    res.Digest.String(), MediaType: string(res.MediaType),
		Platform: res.Platform.OS + "/" + res.Platform.Architecture, Arch: spec.Arch,
		Base: ref, BaseDigest: baseDigest.String(), Handler: spec.Handler,
		Size: res.Size, UncompressedSize: res.UncompressedSize, ManifestSize: res.ManifestSize,
		OCILayout: out.ociLayout, Tarball: out.tarball, Tags: out.tags,
		Warnings: res.Warnings,
	}
	if result.Warnings == nil {
		result.Warnings = []string{}
	}
	for _, l := range res.Layers {
		result.Layers = append(result.Layers, layerJSON{
			Digest: l.Digest.String(), MediaType: string(l.MediaType), Size: l.Size,
			UncompressedSize: l.UncompressedSize, Kind: l.Kind, Source: l.Source, Path: l.Path, CacheHit: l.CacheHit,
		})
	}

	// Outputs are written only now, once every check has passed; if a
	// later step fails, what this run wrote is undone, so a failed command
	// leaves no outputs.
	pub, err := out.publisher(ropts, a).Publish(ctx, res.Image)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			if uerr := pub.Undo(); uerr != nil {
				logf(a, "warning: removing this run's outputs after the failure: %v", uerr)
			}
		}
	}()
	if pr := pub.Push; pr != nil {
		if err = push.written(pr); err != nil {
			return nil, err
		}
		result.Pushed = pr.References
		if len(pr.References) > 0 {
			result.Reference = pr.References[0]
		}
		status := map[string]string{}
		for _, b := range pr.Layers {
			if b.Config {
				result.ConfigPush = b.Status
				continue
			}
			status[b.Digest.String()] = b.Status
		}
		for i := range result.Layers {
			result.Layers[i].Push = status[result.Layers[i].Digest]
		}
	}

	if out.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		if err = enc.Encode(result); err != nil {
			return nil, err
		}
	} else {
		fmt.Fprintln(a.stdout, result.Reference)
	}
	return result, nil
}

// checkLocalBase refuses a base that is plainly a path to a local
// directory: as a registry reference it would only end in a DNS or parse
// error that does not mention oci:.
func checkLocalBase(ref string) error {
	if strings.HasPrefix(ref, registry.LayoutPrefix) || !isLocalDir(ref) {
		return nil
	}
	_, perr := name.ParseReference(ref)
	if perr == nil && !strings.HasPrefix(ref, ".") && !filepath.IsAbs(ref) {
		// A bare name like "python" may be both; the registry decides, and
		// its error gets the hint.
		return nil
	}
	return fmt.Errorf("base %s is a local directory, not a registry reference: for an OCI layout use oci:%s (oci:PATH[:TAG])", ref, ref)
}

func isLocalDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// resolveCacheDir is --cache-dir, else the default cache directory; "" with
// --no-cache.
func resolveCacheDir(a *app, dir string, noCache bool) (string, error) {
	if noCache {
		return "", nil
	}
	if dir != "" {
		return dir, nil
	}
	return layerconv.DefaultCacheDir(a.getenv)
}

// logf writes one log line on stderr; stdout carries only results.
func logf(a *app, format string, args ...any) {
	fmt.Fprintf(a.stderr, "lambda-oci: "+format+"\n", args...)
}
