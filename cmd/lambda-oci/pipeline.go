package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/internal/atomicfile"
	"github.com/lambda-oci/lambda-oci/layerconv"
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
	if o.ociLayout != "" {
		o.ociLayout = filepath.Clean(o.ociLayout)
		if err := checkLayoutPath(o.ociLayout); err != nil {
			return fmt.Errorf("--oci-layout %s: %w", o.ociLayout, err)
		}
	}
	if o.tarball != "" {
		o.tarball = filepath.Clean(o.tarball)
		if err := checkFilePath(o.tarball); err != nil {
			return fmt.Errorf("--tarball %s: %w", o.tarball, err)
		}
	}
	if o.ociLayout != "" && o.ociLayout == o.tarball {
		return fmt.Errorf("--oci-layout and --tarball both name %s: give them different paths", o.tarball)
	}
	return nil
}

// checkFilePath refuses a file output that cannot be written: the path is
// a directory, or a parent is not a directory.
func checkFilePath(p string) error {
	st, err := os.Stat(p)
	switch {
	case err == nil && st.IsDir():
		return errors.New("is a directory: name a file to write")
	case err == nil && !st.Mode().IsRegular():
		return fmt.Errorf("exists and is not a regular file (%s)", st.Mode().Type())
	case err != nil && !missing(err):
		return err
	}
	return checkParent(p)
}

// checkLayoutPath refuses a layout directory the layout writer would
// refuse: a file, or a non-empty directory that is not a valid OCI layout.
func checkLayoutPath(p string) error {
	st, err := os.Stat(p)
	switch {
	case missing(err):
		return checkParent(p)
	case err != nil:
		return err
	case !st.IsDir():
		return errors.New("exists and is not a directory: name a new or empty directory, or an OCI layout")
	}
	entries, err := os.ReadDir(p)
	if err != nil {
		return err
	}
	if len(entries) == 0 {
		return nil
	}
	if _, err := os.Stat(filepath.Join(p, "oci-layout")); err != nil {
		return errors.New("is a non-empty directory that is not an OCI layout: name a new or empty directory, or an OCI layout")
	}
	// The writer's own check: index.json and oci-layout must both parse.
	return registry.CheckLayoutTarget(p)
}

// missing reports a path that does not exist, including one below a file
// (ENOTDIR): the parent check then names the file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// checkParent requires the nearest existing ancestor of p to be a
// directory, so the parents can be made.
func checkParent(p string) error {
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("parent %s is not a directory", dir)
			}
			return nil
		}
		if !missing(err) {
			return fmt.Errorf("parent %s: %w", dir, err)
		}
		if next := filepath.Dir(dir); next == dir {
			return nil
		}
	}
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
	// later one fails, the ones this run already wrote are undone, so a
	// failed command leaves no outputs (a push cannot be undone: it goes
	// last).
	var undo rollback
	defer func() {
		if err != nil {
			if uerr := undo.run(); uerr != nil {
				logf(a, "warning: removing this run's outputs after the failure: %v", uerr)
			}
		}
	}()
	for _, p := range []string{out.ociLayout, out.tarball} {
		if p == "" {
			continue
		}
		if err = undo.mkdirParents(filepath.Dir(p)); err != nil {
			return nil, fmt.Errorf("output %s: %w", p, err)
		}
	}
	if out.ociLayout != "" {
		if err = undo.snapshotLayout(out.ociLayout); err != nil {
			return nil, fmt.Errorf("oci layout %s: %w", out.ociLayout, err)
		}
		if err = registry.WriteLayout(ctx, out.ociLayout, res.Image, imgName); err != nil {
			return nil, err
		}
		undo.layout.written = true
		logf(a, "wrote OCI layout %s (%s)", out.ociLayout, imgName)
	}
	if out.tarball != "" {
		if err = registry.WriteTarball(ctx, out.tarball, res.Image, imgName); err != nil {
			return nil, err
		}
		undo.files = append(undo.files, out.tarball)
		logf(a, "wrote tarball %s (%s)", out.tarball, imgName)
	}
	if len(out.tags) > 0 {
		pr, perr := registry.Push(ctx, res.Image, out.tags, ropts)
		push.pushed()
		if perr != nil {
			err = perr
			return nil, err
		}
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

// rollback undoes the outputs one run wrote: files it wrote (created or
// replaced: their content is this run's either way), a layout directory it
// created, the entries it added to an existing layout (index.json
// restored, new files removed; files that were there stay), parents it
// made. It never removes a file that existed before the run, except a
// replaced output file.
type rollback struct {
	files   []string
	parents []string // created parent directories, outermost first
	layout  *layoutSnapshot
}

type layoutSnapshot struct {
	dir     string
	existed bool
	written bool   // the write succeeded
	index   []byte // index.json before the run; nil if there was none
	before  map[string]bool
}

func (r *rollback) mkdirParents(dir string) error {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Stat(d); err == nil {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for i := len(missing) - 1; i >= 0; i-- {
		r.parents = append(r.parents, missing[i])
	}
	return nil
}

// snapshotLayout records what an existing layout directory holds before the
// writer adds to it.
func (r *rollback) snapshotLayout(dir string) error {
	s := &layoutSnapshot{dir: dir, before: map[string]bool{}}
	r.layout = s
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s.existed = true
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err == nil {
		s.index = b
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		s.before[p] = true
		return nil
	})
}

func (r *rollback) run() error {
	var errs []error
	for _, f := range r.files {
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	if s := r.layout; s != nil {
		errs = append(errs, s.restore())
	}
	// Innermost first; a parent something else now uses stays.
	for i := len(r.parents) - 1; i >= 0; i-- {
		_ = os.Remove(r.parents[i])
	}
	return errors.Join(errs...)
}

func (s *layoutSnapshot) restore() error {
	if !s.existed {
		// Created by this run. The writer renames a finished layout into
		// place, so a failed write left nothing, and whatever is at dir then
		// is not ours.
		if !s.written {
			return nil
		}
		return os.RemoveAll(s.dir)
	}
	var errs []error
	if s.index != nil {
		errs = append(errs, atomicfile.WriteFile(filepath.Join(s.dir, "index.json"), s.index, 0o644))
	}
	var added []string
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !s.before[p] {
			added = append(added, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	errs = append(errs, err)
	for _, p := range added {
		errs = append(errs, os.RemoveAll(p))
	}
	return errors.Join(errs...)
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
