package build

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/publish"
)

// RebaseSpec is a built image to move onto another base.
type RebaseSpec struct {
	// Image is the image lambda-oci built (one platform), and Name how
	// errors name it (its reference).
	Image v1.Image
	Name  string
	// Runtime, Base and BaseImage pick the new base as in Spec: BaseImage,
	// else Base, else the runtime's AWS base image for the image's
	// architecture. Runtime also picks the handler convention.
	Runtime   string
	Base      string
	BaseImage v1.Image
	// MaxSize and AllowArchMismatch are as in Spec.
	MaxSize           int64
	AllowArchMismatch bool
}

// RebaseRefusedError is a rebase that would not give the image a fresh
// build on the new base gives: the image is not what its provenance
// records, or the new base is of another kind.
type RebaseRefusedError struct {
	Image  string
	Reason string
}

func (e *RebaseRefusedError) Error() string {
	return fmt.Sprintf("rebase %s: refused: %s", e.Image, e.Reason)
}

// Rebase moves an image lambda-oci built onto a new base without
// converting anything. The image's provenance label says which of its
// layers are the old base and which were added; Rebase refuses unless the
// image's layers are exactly those (the first ones the recorded base's,
// in order; the rest the recorded added layers, digests and diffIDs), and
// unless the new base is for the same architecture, runtime family and
// task root. The result is the new base's config and layers, then the
// image's own layers as they are (the same blobs, so a push uploads none
// of them where they already are), with CMD, the environment the build set
// (over the new base's), the provenance (now naming the new base) and the
// history entries of the added layers: the image a fresh Build of the
// same inputs on the new base gives, digest for digest. Every Lambda rule
// is run over it as in Build; Result describes it as Build's does.
func Rebase(ctx context.Context, spec RebaseSpec, opts Options) (res *Result, err error) {
	name := spec.Name
	if name == "" {
		name = "image"
	}
	refuse := func(format string, args ...any) error {
		return &RebaseRefusedError{Image: name, Reason: fmt.Sprintf(format, args...)}
	}
	if spec.Image == nil {
		return nil, fmt.Errorf("rebase %s: no image", name)
	}
	cf, err := spec.Image.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("rebase %s: reading config: %w", name, err)
	}
	prov, err := image.ReadProvenance(cf)
	if err != nil {
		return nil, fmt.Errorf("rebase %s: %w", name, err)
	}
	if prov == nil {
		return nil, refuse("it has no %s label: only an image lambda-oci built records which of its layers are the base; build it again on the new base", image.ProvenanceLabel)
	}
	arch, ok := lambda.ArchOf(cf.Platform())
	if !ok {
		return nil, refuse("its platform %s is not one Lambda runs", lambda.PlatformString(cf.Platform()))
	}
	layers, err := spec.Image.Layers()
	if err != nil {
		return nil, fmt.Errorf("rebase %s: reading layers: %w", name, err)
	}
	if err := verifyRecorded(spec.Image, cf, layers, prov, refuse); err != nil {
		return nil, err
	}
	oldRoot, err := checks.TaskRoot(cf)
	if err != nil {
		return nil, fmt.Errorf("rebase %s: %w", name, err)
	}

	// The builder of a fresh build on the new base, with the spec the
	// image records: the same steps then give the same config.
	var env []string
	for _, k := range prov.Env {
		if v, ok := envLookup(cf.Config.Env, k); ok {
			env = append(env, k+"="+v)
		}
	}
	b := &builder{
		spec: Spec{Runtime: spec.Runtime, Base: spec.Base, BaseImage: spec.BaseImage, Arch: string(arch),
			Handler: prov.Handler, Env: env, MaxSize: spec.MaxSize, AllowArchMismatch: spec.AllowArchMismatch},
		opts: opts, cache: Cache{Root: opts.CacheDir}, arch: arch, maxSize: spec.MaxSize,
		created: cf.Created.Time.UTC(), res: &Result{},
	}
	if b.maxSize <= 0 {
		b.maxSize = lambda.MaxImageSize
	}
	if !b.hasBase() && spec.Runtime == "" {
		return nil, fmt.Errorf("rebase %s: no new base: give a runtime id or a base image reference", name)
	}
	defer func() {
		if err != nil {
			_ = b.res.Close()
		}
	}()
	base, err := b.fetchBase(ctx)
	if err != nil {
		var perr *image.PlatformError
		if errors.As(err, &perr) {
			return nil, refuse("the new base has no %s image: %v", arch, err)
		}
		return nil, fmt.Errorf("rebase %s: %w", name, err)
	}
	if b.res.BaseDigest, err = base.Digest(); err != nil {
		return nil, fmt.Errorf("rebase %s: %s: %w", name, b.baseName(), err)
	}
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("rebase %s: reading the new base's manifest: %w", name, err)
	}
	if b.fam, err = image.FamilyOf(mt); err != nil {
		return nil, fmt.Errorf("rebase %s: new base: %w", name, err)
	}
	bcf, err := base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("rebase %s: reading the new base's config: %w", name, err)
	}
	if got := bcf.Platform(); !arch.Runs(got) {
		return nil, refuse("the new base is for %s, the image for %s", lambda.PlatformString(got), arch)
	}
	if b.taskRoot, err = checks.TaskRoot(bcf); err != nil {
		return nil, fmt.Errorf("rebase %s: new base: %w", name, err)
	}
	if b.taskRoot != oldRoot {
		return nil, refuse("the new base's task root is %s, the image's code is at %s", b.taskRoot, oldRoot)
	}
	baseLayers, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("rebase %s: reading the new base's layers: %w", name, err)
	}

	// The new base is measured while the image's own layers are listed:
	// the checks need both, and neither is converted.
	reader := checks.Reader{CacheDir: b.cache.Listings()}
	baseChecked := make([]checks.Layer, len(baseLayers))
	nb := len(prov.Base.Layers)
	adds := make([]*added, len(prov.Layers))
	history := addedHistory(cf, len(prov.Layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU() + 1)
	for i, l := range baseLayers {
		g.Go(func() error {
			cl, err := b.baseLayer(gctx, reader, l)
			if err != nil {
				return fmt.Errorf("rebase %s: new base layer %d: %w", name, i+1, err)
			}
			baseChecked[i] = cl
			return nil
		})
	}
	for j, pl := range prov.Layers {
		l := layers[nb+j]
		g.Go(func() error {
			a, err := b.recordedLayer(gctx, reader, l, pl, history[j])
			if err != nil {
				return fmt.Errorf("rebase %s: layer %d: %w", name, nb+j+1, err)
			}
			adds[j] = a
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}

	baseView := (&checks.Image{Layers: baseChecked}).View()
	fam, ver, detected, err := b.family(baseView, nil)
	if err != nil {
		return nil, fmt.Errorf("rebase %s: %w", name, err)
	}
	if old := prov.Runtime; old != nil && fam != "" && string(fam) != old.Family {
		return nil, refuse("the new base is a %s runtime, the image was built for %s", fam, old.Family)
	} else if old != nil && fam != "" && ver != old.Version {
		b.warn("the new base is %s %s, the image was built on %s %s: native code and version-specific paths in its layers may not fit", fam, ver, old.Family, old.Version)
	}

	cfg := bcf.Config.DeepCopy()
	cfg.Env = b.mergeEnv(bcf.Config.Env)
	cfg.Cmd = []string{prov.Handler}
	newProv := b.provenance(baseChecked, adds, fam, ver, baseView.Exists(lambda.RuntimeBootstrap))
	// The layers are the image's: made the way it records.
	newProv.NoPycRewrite = prov.NoPycRewrite
	if newProv.Runtime != nil {
		newProv.Runtime.Detected = detected
	}
	newProv.AllowArchMismatch = prov.AllowArchMismatch || b.spec.AllowArchMismatch
	if cfg.Labels, err = image.WithProvenance(cfg.Labels, newProv); err != nil {
		return nil, fmt.Errorf("rebase %s: %w", name, err)
	}
	additions := make([]image.Addition, len(adds))
	for i, a := range adds {
		additions[i] = image.Addition{Layer: a.layer, CreatedBy: a.desc, Comment: history[i].Comment}
	}
	img, err := image.Assemble(base, b.fam, additions, *cfg, b.created)
	if err != nil {
		return nil, fmt.Errorf("rebase %s: %w", name, err)
	}
	if img, err = image.AnnotateBase(img, b.fam, annotationBaseName(b.res.Base), b.res.BaseDigest.String()); err != nil {
		return nil, fmt.Errorf("rebase %s: %w", name, err)
	}
	b.res.Provenance = newProv
	if err := b.check(img, baseChecked, adds, fam, ver); err != nil {
		return nil, err
	}
	return b.res, nil
}

// verifyRecorded refuses an image whose layers are not those its
// provenance records: the recorded base's, in order, then the recorded
// added layers (digest and diffID), and the manifest's base annotation,
// when it has one, naming the recorded base.
func verifyRecorded(img v1.Image, cf *v1.ConfigFile, layers []v1.Layer, prov *image.Provenance, refuse func(string, ...any) error) error {
	nb, na := len(prov.Base.Layers), len(prov.Layers)
	if len(layers) != nb+na {
		return refuse("it has %d layers, its provenance records %d of base %s and %d added", len(layers), nb, prov.Base.Digest, na)
	}
	if m, err := img.Manifest(); err == nil {
		if d, ok := m.Annotations[image.AnnotationBaseDigest]; ok && d != prov.Base.Digest {
			return refuse("its manifest names base %s, its config label base %s", d, prov.Base.Digest)
		}
	}
	for i, want := range prov.Base.Layers {
		d, err := layers[i].Digest()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		if d.String() != want.Digest {
			return refuse("layer %d is %s, but base %s (%s) has %s there: the image was not built on the base it records", i+1, d, prov.Base.Name, prov.Base.Digest, want.Digest)
		}
	}
	for j, want := range prov.Layers {
		i := nb + j
		d, err := layers[i].Digest()
		if err != nil {
			return fmt.Errorf("layer %d: %w", i+1, err)
		}
		if d.String() != want.Digest {
			return refuse("layer %d is %s, its provenance records %s for %s %s", i+1, d, want.Digest, want.Kind, want.Source)
		}
		if i >= len(cf.RootFS.DiffIDs) || cf.RootFS.DiffIDs[i].String() != want.DiffID {
			return refuse("layer %d's diffID in the config is not the %s its provenance records for %s %s", i+1, want.DiffID, want.Kind, want.Source)
		}
	}
	return nil
}

// recordedLayer is one of the image's own layers as the checks and the
// result see it: listed (read once, cached by digest), described by what
// its provenance records.
func (b *builder) recordedLayer(ctx context.Context, reader checks.Reader, l v1.Layer, pl image.ProvenanceLayer, h v1.History) (*added, error) {
	info, err := describe(l)
	if err != nil {
		return nil, err
	}
	listing, err := b.opts.Shared.listing(ctx, info.Digest, func() (*checks.Listing, error) { return reader.Listing(ctx, l) })
	if err != nil {
		return nil, fmt.Errorf("%s: reading: %w", info.Digest, err)
	}
	info.MediaType = b.fam.Layer
	info.UncompressedSize = listing.UncompressedSize
	info.Kind, info.Source, info.ARN, info.CodeSha256 = pl.Kind, pl.Source, pl.ARN, pl.CodeSha256
	return &added{layer: l, listing: listing, info: info, desc: h.CreatedBy, id: sourceID{sha256: pl.SHA256, tree: pl.Tree}}, nil
}

// addedHistory are the history entries of the last n (added) layers; an
// image without them gets empty ones.
func addedHistory(cf *v1.ConfigFile, n int) []v1.History {
	var hs []v1.History
	for _, h := range cf.History {
		if !h.EmptyLayer {
			hs = append(hs, h)
		}
	}
	out := make([]v1.History, n)
	if len(hs) >= n {
		copy(out, hs[len(hs)-n:])
	}
	return out
}

func envLookup(env []string, key string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == key {
			return v, true
		}
	}
	return "", false
}

// PublishRebase is a whole rebase as a command runs it: the destination is
// checked first, the image rebased and checked, then published, all or
// nothing. A registry destination that already holds the image's layers
// and the new base's receives only the config and the manifest (existing
// blobs are skipped).
func PublishRebase(ctx context.Context, spec RebaseSpec, pub publish.Publisher, opts Options) (*Result, *publish.Publication, error) {
	if err := pub.Check(nil); err != nil {
		return nil, nil, err
	}
	res, err := Rebase(ctx, spec, opts)
	if err != nil {
		return nil, nil, err
	}
	defer res.Close()
	p, err := pub.Publish(ctx, res.Image)
	if err != nil {
		return nil, nil, err
	}
	return res, p, nil
}
