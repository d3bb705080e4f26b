package build

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"runtime"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/layerconv"
	"github.com/lambda-oci/lambda-oci/registry"
)

// Build resolves the spec's inputs, fetches the base, converts the inputs,
// stacks them on the base and checks the whole image against Lambda's
// rules. Nothing is written outside the cache; the caller publishes
// Result.Image, then calls Result.Close. A refused image is a
// *checks.Error (errors.As also finds *checks.SizeError,
// *checks.ArchMismatchError and *lambda.HandlerError in it).
func Build(ctx context.Context, spec Spec, opts Options) (res *Result, err error) {
	b, err := newBuilder(spec, opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			_ = b.res.Close()
		}
	}()
	err = b.build(ctx)
	if errors.Is(err, errNeedListings) {
		b.info("%v: building without the registry cache", err)
		_ = b.res.Close()
		b.res, b.noReuse = &Result{}, true
		err = b.build(ctx)
	}
	if err != nil {
		return nil, err
	}
	return b.res, nil
}

// builder is the state of one Build.
type builder struct {
	spec     Spec
	opts     Options
	cache    Cache
	arch     lambda.Arch
	created  time.Time
	maxSize  int64
	fam      image.Family
	taskRoot string
	res      *Result

	// priors are the Options.CacheFrom images (loaded once: a build may
	// run twice, see errNeedListings); noReuse turns their use off.
	priors     []*prior
	priorsWait func() // waits for priors (set by startPriors)
	noReuse    bool
	// emitted are the warnings already sent as events: a second run
	// records them in its result without repeating them.
	emitted map[string]bool
}

func newBuilder(spec Spec, opts Options) (*builder, error) {
	b := &builder{spec: spec, opts: opts, cache: Cache{Root: opts.CacheDir}, maxSize: spec.MaxSize, res: &Result{}, emitted: map[string]bool{}}
	if spec.Code.Path == "" {
		return nil, errors.New("build: no function code (a zip or a directory)")
	}
	if err := lambda.CheckHandlerSyntax(spec.Handler); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if err := checkCodeLayers(spec.CodeLayers); err != nil {
		return nil, err
	}
	var err error
	if b.arch, err = lambda.ParseArch(spec.Arch); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if spec.Runtime != "" {
		// Deprecated ids are fine with an explicit base (their family still
		// tells where the handler lives); unknown ones are a typo worth
		// stopping for.
		if _, err := lambda.LookupRuntime(spec.Runtime); err != nil && !(errors.Is(err, lambda.ErrDeprecatedRuntime) && b.hasBase()) {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	if !b.hasBase() && spec.Runtime == "" {
		return nil, errors.New("build: no base: give a runtime id (its AWS base image) or a base image reference")
	}
	if b.maxSize == 0 {
		b.maxSize = lambda.MaxImageSize
	}
	if b.maxSize < 0 {
		return nil, fmt.Errorf("build: max size %d: want a positive number of bytes", spec.MaxSize)
	}
	b.created = spec.Created
	if b.created.IsZero() {
		getenv := opts.Getenv
		if getenv == nil {
			getenv = os.Getenv
		}
		if b.created, err = layerconv.ModTimeFromEnv(getenv); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	b.created = b.created.Truncate(time.Second).UTC()
	for _, kv := range spec.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(kv, "\x00") || strings.ContainsAny(k, " \t\n") {
			return nil, fmt.Errorf("build: env %q: want KEY=VALUE", kv)
		}
	}
	if b.opts.Lambda.CacheDir == "" {
		b.opts.Lambda.CacheDir = b.cache.LayerVersions()
	}
	return b, nil
}

func (b *builder) hasBase() bool { return b.spec.Base != "" || b.spec.BaseImage != nil }

func (b *builder) info(format string, args ...any) {
	if b.opts.Events != nil {
		b.opts.Events(Event{Kind: Info, Message: fmt.Sprintf(format, args...)})
	}
}

func (b *builder) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.res.Warnings = append(b.res.Warnings, msg)
	if b.opts.Events != nil && !b.emitted[msg] {
		b.emitted[msg] = true
		b.opts.Events(Event{Kind: Warning, Message: msg})
	}
}

// baseRef is the base reference: Spec.Base, else the runtime's AWS image.
func (b *builder) baseRef() (string, error) {
	if b.spec.Base != "" {
		if b.spec.Runtime != "" {
			if _, err := lambda.LookupRuntime(b.spec.Runtime); errors.Is(err, lambda.ErrDeprecatedRuntime) {
				b.warn("%v", err)
			}
		}
		return b.spec.Base, nil
	}
	rt, err := lambda.LookupRuntime(b.spec.Runtime)
	if err != nil {
		return "", err
	}
	return rt.BaseRef(b.arch), nil
}

// fetchBase returns the single-platform base for the architecture.
func (b *builder) fetchBase(ctx context.Context) (v1.Image, error) {
	if b.spec.BaseImage != nil {
		b.res.Base = b.spec.Base
		img, err := image.SelectPlatform(nil, b.spec.BaseImage, b.arch)
		if err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
		return img, nil
	}
	ref, err := b.baseRef()
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	b.res.Base = ref
	if err := checkLocalBase(ref); err != nil {
		return nil, err
	}
	return b.opts.Shared.base(ctx, ref, b.arch, func() (v1.Image, error) {
		b.info("fetching base %s", ref)
		base, err := registry.FetchBase(ctx, ref, b.opts.Registry)
		if err != nil {
			return nil, baseFetchError(ref, err)
		}
		img, err := image.SelectPlatform(base.Index, base.Image, b.arch)
		if err != nil {
			return nil, fmt.Errorf("base %s: %w", ref, err)
		}
		return img, nil
	})
}

func (b *builder) baseName() string {
	if b.res.Base != "" {
		return "base " + b.res.Base
	}
	return "base"
}

func (b *builder) build(ctx context.Context) error {
	// The previous images are read while the layer versions and the base
	// are resolved.
	b.startPriors(ctx)
	// Layer version ARNs first: a wrong ARN is cheaper to report than a
	// base download.
	layers, err := b.resolveLayers(ctx)
	if err != nil {
		return err
	}
	code := input{Source: b.spec.Code, path: b.spec.Code.Path, kind: kindCode}
	inputs := append(layers, code)
	for _, in := range inputs {
		if in.path != "" {
			b.res.Inputs = append(b.res.Inputs, in.path)
		}
	}
	// The inputs alone may already declare more than the limit: refused in
	// milliseconds, before the base is fetched or anything converted.
	if err := b.checkDeclared(inputs, nil); err != nil {
		return err
	}

	base, err := b.fetchBase(ctx)
	b.priorsWait()
	if err != nil {
		return err
	}
	if b.res.BaseDigest, err = base.Digest(); err != nil {
		return fmt.Errorf("base %s: %w", b.res.Base, err)
	}
	mt, err := base.MediaType()
	if err != nil {
		return fmt.Errorf("build: reading base manifest: %w", err)
	}
	if b.fam, err = image.FamilyOf(mt); err != nil {
		return fmt.Errorf("build: base: %w", err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return fmt.Errorf("build: reading base config: %w", err)
	}
	if b.taskRoot, err = checks.TaskRoot(cf); err != nil {
		return fmt.Errorf("build: base: %w", err)
	}
	baseLayers, err := base.Layers()
	if err != nil {
		return fmt.Errorf("build: reading base layers: %w", err)
	}

	// Base layers are measured (and listed) while the inputs are converted:
	// both are bound by decompression or compression. Once the base is
	// measured, the declared sizes of the inputs are checked against what
	// is left of the limit, and the conversions stop if it is exceeded.
	reader := checks.Reader{CacheDir: b.cache.Listings()}
	baseChecked, basePrior, err := b.recordedBase(reader, baseLayers)
	if err != nil {
		return err
	}
	if basePrior != nil {
		b.info("registry cache: the base's sizes as %s records them (the base is not downloaded)", basePrior.prev.Ref)
	}
	measure := baseChecked == nil
	if measure {
		baseChecked = make([]checks.Layer, len(baseLayers))
	}
	var adds []*added
	var refused *tooLarge
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() error {
		bg, bctx := errgroup.WithContext(gctx)
		bg.SetLimit(runtime.NumCPU() + 1)
		for i, l := range baseLayers {
			if !measure {
				break
			}
			bg.Go(func() error {
				cl, err := b.baseLayer(bctx, reader, l)
				if err != nil {
					return fmt.Errorf("build: base layer %d: %w", i+1, err)
				}
				baseChecked[i] = cl
				return nil
			})
		}
		if err := bg.Wait(); err != nil {
			return err
		}
		return b.checkDeclared(inputs, baseChecked)
	})
	g.Go(func() error {
		var err error
		adds, refused, err = b.convertAll(gctx, inputs)
		return err
	})
	if err := g.Wait(); err != nil {
		_ = closeAdds(adds)
		return err
	}
	b.res.closers = append(b.res.closers, func() error { return closeAdds(adds) })
	if refused != nil {
		return b.sizeError(baseChecked, adds, inputs[refused.index:], refused.err)
	}

	// The bootstrap link needs the merged view of what is there so far.
	layersSoFar := append(append([]checks.Layer{}, baseChecked...), checkLayers(adds, b.fam)...)
	view := (&checks.Image{Layers: layersSoFar}).View()
	baseView := (&checks.Image{Layers: baseChecked}).View()
	fam, ver, detected, err := b.family(baseView, basePrior)
	if err != nil {
		return err
	}
	baseHas := baseView.Exists(lambda.RuntimeBootstrap)
	if basePrior != nil {
		baseHas = basePrior.prov.Base.Bootstrap
	}
	if !baseHas && slices.ContainsFunc(adds, func(a *added) bool { return a.unlisted }) {
		// Without the base's bootstrap, the image links the code's or a
		// layer's: which one needs every layer's names.
		return fmt.Errorf("%w: the base has no %s and a layer version's files are not known", errNeedListings, lambda.RuntimeBootstrap)
	}
	if bl, err := b.bootstrapLayer(ctx, view, baseHas, fam); err != nil {
		return err
	} else if bl != nil {
		adds = append(adds, bl)
	}

	env := b.mergeEnv(cf.Config.Env)
	cfg := cf.Config.DeepCopy()
	cfg.Env = env
	cfg.Cmd = []string{b.spec.Handler}
	prov := b.provenance(baseChecked, adds, fam, ver, baseHas)
	if prov.Runtime != nil {
		prov.Runtime.Detected = detected
	}
	if cfg.Labels, err = image.WithProvenance(cfg.Labels, prov); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	additions := make([]image.Addition, len(adds))
	for i, a := range adds {
		additions[i] = image.Addition{Layer: a.layer, CreatedBy: a.desc, Comment: a.info.Kind}
	}
	img, err := image.Assemble(base, b.fam, additions, *cfg, b.created)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if img, err = image.AnnotateBase(img, b.fam, annotationBaseName(b.res.Base), b.res.BaseDigest.String()); err != nil {
		return fmt.Errorf("build: %w", err)
	}
	b.res.Provenance = prov
	return b.check(img, baseChecked, adds, fam, ver)
}

// check runs every rule over the assembled image and fills the result.
func (b *builder) check(img v1.Image, baseChecked []checks.Layer, adds []*added, fam lambda.Family, ver string) error {
	raw, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("build: computing manifest: %w", err)
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return fmt.Errorf("build: computing config: %w", err)
	}
	ci := &checks.Image{MediaType: b.fam.Manifest, ManifestSize: int64(len(raw)), Config: cf,
		Layers: append(append([]checks.Layer{}, baseChecked...), checkLayers(adds, b.fam)...)}
	for i := range ci.Layers {
		if i < len(cf.RootFS.DiffIDs) && ci.Layers[i].Origin == checks.Added {
			ci.Layers[i].DiffID = cf.RootFS.DiffIDs[i]
		}
	}
	findings := checks.Run(ci, checks.Config{
		Arch: b.arch, Family: fam, Version: ver, Handler: b.spec.Handler,
		MaxSize: b.maxSize, AllowArchMismatch: b.spec.AllowArchMismatch,
	})
	if err := checks.Errors(findings); err != nil {
		if hasRecorded(ci.Layers) {
			return fmt.Errorf("%w: a rule refused the image (%v)", errNeedListings, firstLine(err.Error()))
		}
		return err
	}
	for _, f := range findings {
		b.res.Findings = append(b.res.Findings, f)
		b.warn("%s", f.Message)
	}

	r := b.res
	r.Image, r.MediaType, r.Arch, r.Platform = img, b.fam.Manifest, b.arch, b.arch.Platform()
	if r.Digest, err = img.Digest(); err != nil {
		return fmt.Errorf("build: computing digest: %w", err)
	}
	r.Handler, r.Family, r.ManifestSize = b.spec.Handler, fam, int64(len(raw))
	for _, l := range baseChecked {
		r.Layers = append(r.Layers, LayerInfo{Digest: l.Digest, DiffID: l.DiffID, MediaType: l.MediaType,
			Size: l.Size, UncompressedSize: l.Listing.UncompressedSize, Kind: l.Kind, Source: l.Source})
	}
	for _, a := range adds {
		r.Layers = append(r.Layers, a.info)
	}
	for _, l := range r.Layers {
		r.Size += l.Size
		r.UncompressedSize += l.UncompressedSize
	}
	return nil
}

// baseLayer describes and lists one base layer.
func (b *builder) baseLayer(ctx context.Context, reader checks.Reader, l v1.Layer) (checks.Layer, error) {
	cl, err := describeBase(l)
	if err != nil {
		return cl, err
	}
	cl.Listing, err = b.opts.stage.listBase(ctx, l, cl.Digest, func(l v1.Layer) (*checks.Listing, error) {
		return b.opts.Shared.listing(ctx, cl.Digest, func() (*checks.Listing, error) { return reader.Listing(ctx, l) })
	})
	if err != nil {
		return cl, fmt.Errorf("measuring: %w", err)
	}
	cl.Origin, cl.Kind, cl.Source = checks.Base, kindBase, b.baseName()
	return cl, nil
}

// describeBase is what a base layer's manifest and config say of it.
func describeBase(l v1.Layer) (checks.Layer, error) {
	var cl checks.Layer
	var err error
	if cl.Digest, err = l.Digest(); err != nil {
		return cl, fmt.Errorf("digest: %w", err)
	}
	if cl.DiffID, err = l.DiffID(); err != nil {
		return cl, fmt.Errorf("%s: diffID: %w", cl.Digest, err)
	}
	if cl.Size, err = l.Size(); err != nil {
		return cl, fmt.Errorf("%s: size: %w", cl.Digest, err)
	}
	if cl.MediaType, err = l.MediaType(); err != nil {
		return cl, fmt.Errorf("%s: media type: %w", cl.Digest, err)
	}
	return cl, nil
}

// family picks the handler convention: the runtime id, the AWS base
// reference, then the base's own files (detected), which a base known only
// from the registry cache does not show: the prior that recorded the base
// then says what they told.
func (b *builder) family(baseView *checks.View, basePrior *prior) (fam lambda.Family, ver string, detected bool, err error) {
	if b.spec.Runtime != "" {
		if r, err := lambda.LookupRuntime(b.spec.Runtime); err == nil || errors.Is(err, lambda.ErrDeprecatedRuntime) {
			return r.Family, r.Version, false, nil
		}
	}
	if f, v := lambda.FamilyFromBaseRef(b.res.Base); f != "" {
		return f, v, false, nil
	}
	if basePrior != nil {
		if rt := basePrior.prov.Runtime; rt != nil && rt.Detected {
			return lambda.Family(rt.Family), rt.Version, true, nil
		}
		return "", "", false, fmt.Errorf("%w: the runtime family is told by the base's files", errNeedListings)
	}
	f, v := checks.DetectFamily(baseView)
	return f, v, true, nil
}

// firstLine is s up to its first newline.
func firstLine(s string) string {
	first, _, _ := strings.Cut(s, "\n")
	return first
}

// bootstrapLayer makes /var/runtime/bootstrap exist for custom-runtime code:
// Lambda runs bootstrap from the task root, else /opt/bootstrap, for zip
// functions, but the base's entrypoint always runs /var/runtime/bootstrap.
func (b *builder) bootstrapLayer(ctx context.Context, view *checks.View, baseHas bool, fam lambda.Family) (*added, error) {
	target := ""
	for _, c := range lambda.ZipBootstraps(b.taskRoot) {
		if view.Exists(c) {
			target = c
			break
		}
	}
	if baseHas {
		// The base's own runtime wins over the function's: as a zip function
		// this code ran its bootstrap, in this image it will not.
		if target != "" && fam == lambda.Provided {
			b.warn("the base has its own %s, so the function's %s will not run: use a base without one (public.ecr.aws/lambda/provided) to run it", lambda.RuntimeBootstrap, target)
		}
		return nil, nil
	}
	if target == "" {
		if fam != lambda.Provided && fam != "" {
			b.warn("the base has no %s and neither the code nor a layer carries %s: the %s entrypoint may fail to start", lambda.RuntimeBootstrap, lambda.BootstrapName, fam)
		}
		return nil, nil
	}
	layer, err := image.SymlinkLayer(lambda.Rel(lambda.RuntimeBootstrap), target, b.created, b.fam.Layer)
	if err != nil {
		return nil, fmt.Errorf("build: bootstrap link layer: %w", err)
	}
	listing, err := checks.ReadLayer(ctx, layer)
	if err != nil {
		return nil, fmt.Errorf("build: bootstrap link layer: %w", err)
	}
	a := &added{layer: layer, listing: listing}
	if a.info, err = describe(layer); err != nil {
		return nil, fmt.Errorf("build: bootstrap link layer: %w", err)
	}
	a.info.UncompressedSize = listing.UncompressedSize
	a.info.Kind, a.info.Source = kindBootstrap, lambda.RuntimeBootstrap+" -> "+target
	a.desc = fmt.Sprintf("lambda-oci: %s -> %s (%s)", lambda.RuntimeBootstrap, target, a.info.Digest)
	return a, nil
}

// mergeEnv adds the spec's values to the base's, replacing keys the base
// sets, and warns about values that will not do what the user expects.
func (b *builder) mergeEnv(base []string) []string {
	env := append([]string{}, base...)
	for _, kv := range b.spec.Env {
		k, _, _ := strings.Cut(kv, "=")
		replaced := false
		for i, old := range env {
			if ok, _, _ := strings.Cut(old, "="); ok == k {
				env[i] = kv
				replaced = true
			}
		}
		if !replaced {
			env = append(env, kv)
		}
		if lambda.HidesLayerPaths(k) && len(b.spec.Layers) > 0 {
			b.warn("%s is set while layers are present: the runtime then leaves out the %s paths where layers put their packages; append them to %s yourself", k, lambda.OptDir, k)
		}
		if lambda.IsReservedEnv(k) {
			b.warn("%s is reserved by Lambda: the runtime sets it and a value in the image is overwritten or breaks the runtime", k)
		}
	}
	return env
}

// historyPath renders where an input lands, for the history entry.
func historyPath(p string) string { return path.Clean(p) }
