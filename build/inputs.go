package build

import (
	"context"
	"errors"
	"fmt"
	"math"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

// Layer kinds, as the result and the size table name them.
const (
	kindBase      = "base"
	kindLayer     = "layer"
	kindCode      = "code"
	kindBootstrap = "bootstrap"
)

// input is a source resolved to a file or directory on disk.
type input struct {
	Source
	path string // the zip or directory to convert; "" for a layer version not fetched yet
	kind string
	// arn and codeSha256 are set for layer version ARNs.
	arn, codeSha256 string
}

// resolveLayers turns every layer given as a layer version ARN into its
// downloaded, verified zip (cached by ARN: versions are immutable).
func (b *builder) resolveLayers(ctx context.Context) ([]input, error) {
	var out []input
	for _, src := range b.spec.Layers {
		in := input{Source: src, path: src.Path, kind: kindLayer}
		if lambdaapi.IsLayerARN(src.Path) {
			// A version a previous image holds may not need its zip: only
			// what it is (CodeSha256), until the cache turns out not to
			// have it (fetch).
			var lf *lambdaapi.LayerFile
			var err error
			if parsed, perr := lambdaapi.ParseLayerARN(src.Path); perr == nil && b.recordsARN(parsed.String()) {
				lf, err = lambdaapi.DescribeLayer(ctx, src.Path, b.lambdaOptions())
			} else {
				lf, err = b.fetchLayerVersion(ctx, src.Path)
			}
			if err != nil {
				return nil, fmt.Errorf("layer %s: %w", src.Path, err)
			}
			in.path, in.arn, in.codeSha256 = lf.Path, lf.ARN, lf.CodeSha256
			// The ARN, not the download path, names the layer in the image
			// history, so the digest does not depend on the cache location.
			if in.Name == "" {
				in.Name = lf.ARN
			}
			if w := lf.CompatibilityWarning(b.spec.Runtime, string(b.arch)); w != "" {
				b.warn("%s", w)
			}
		}
		out = append(out, in)
	}
	return out, nil
}

// lambdaOptions are Options.Lambda, its progress lines sent as events.
func (b *builder) lambdaOptions() lambdaapi.Options {
	lopts := b.opts.Lambda
	if lopts.Logf == nil {
		lopts.Logf = func(format string, args ...any) { b.info(format, args...) }
	}
	return lopts
}

// fetchLayerVersion downloads and verifies a layer version's zip (shared
// by the Builds of a fleet).
func (b *builder) fetchLayerVersion(ctx context.Context, arn string) (*lambdaapi.LayerFile, error) {
	lf, owned, err := b.opts.Shared.layerVersion(ctx, arn, func() (*lambdaapi.LayerFile, error) {
		return lambdaapi.FetchLayer(ctx, arn, b.lambdaOptions())
	})
	if err != nil {
		return nil, err
	}
	if !owned {
		b.res.closers = append(b.res.closers, func() error { lf.Remove(); return nil })
	}
	return lf, nil
}

// fetched is in with its zip on disk: a layer version resolved without it
// is downloaded now, when it must be converted after all.
func (b *builder) fetched(ctx context.Context, in input) (input, error) {
	if in.path != "" || in.arn == "" {
		return in, nil
	}
	lf, err := b.fetchLayerVersion(ctx, in.arn)
	if err != nil {
		return in, fmt.Errorf("layer %s: %w", in.arn, err)
	}
	if lf.CodeSha256 != in.codeSha256 {
		return in, fmt.Errorf("layer %s: CodeSha256 changed while building (%s, then %s)", in.arn, in.codeSha256, lf.CodeSha256)
	}
	in.path = lf.Path
	b.res.Inputs = append(b.res.Inputs, lf.Path)
	return in, nil
}

// added is one layer the build appends.
type added struct {
	info    LayerInfo
	layer   v1.Layer
	listing *checks.Listing
	desc    string // history created_by
	conv    *layerconv.Result
	id      sourceID // the input's identity, for the provenance
	// unlisted: a layer from the registry cache whose file names are not
	// known (a layer version reused without downloading its zip).
	unlisted bool
}

func closeAdds(adds []*added) error {
	var errs []error
	for _, a := range adds {
		if a.conv != nil {
			errs = append(errs, a.conv.Close())
		}
	}
	return errors.Join(errs...)
}

// checkLayers are the added layers as the checks see them.
func checkLayers(adds []*added, fam image.Family) []checks.Layer {
	out := make([]checks.Layer, len(adds))
	for i, a := range adds {
		out[i] = checks.Layer{Digest: a.info.Digest, DiffID: a.info.DiffID, MediaType: fam.Layer, Size: a.info.Size,
			Origin: checks.Added, Listing: a.listing, Kind: a.info.Kind, Source: a.info.Source}
	}
	return out
}

// tooLarge is an input layerconv refused as over the limit by itself.
type tooLarge struct {
	index int // into the inputs
	err   error
}

// convertAll converts the layers in order, then the code; one at a time,
// since each conversion already uses every core for compression. An input
// over the size limit on its own stops the conversions without failing
// them: the caller still owes the user the per-layer table, base included,
// so it gets the layers converted so far and the refused input.
func (b *builder) convertAll(ctx context.Context, inputs []input) (adds []*added, refused *tooLarge, err error) {
	defer func() {
		if err != nil {
			_ = closeAdds(adds)
			adds = nil
		}
	}()
	n := len(inputs) - 1
	for i, in := range inputs {
		prefix := lambda.OptDir
		if in.kind == kindCode {
			prefix = b.taskRoot
		}
		as, err := b.convertInput(ctx, in, prefix)
		if errors.Is(err, layerconv.ErrTooLarge) {
			return adds, &tooLarge{index: i, err: err}, nil
		}
		if err != nil {
			return adds, nil, err
		}
		for _, a := range as {
			adds = append(adds, a)
			b.opts.stage.added(a.info.Digest, a.layer)
			switch a.info.Kind {
			case kindCode:
				a.desc = fmt.Sprintf("lambda-oci: function code %s at %s (%s)", a.info.Source, prefix, a.info.Digest)
			case kindCodeDeps:
				a.desc = fmt.Sprintf("lambda-oci: function code dependencies %s at %s (%s)", a.info.Source, prefix, a.info.Digest)
			default:
				a.desc = fmt.Sprintf("lambda-oci: layer %d/%d %s at %s (%s)", i+1, n, a.info.Source, prefix, a.info.Digest)
			}
		}
	}
	return adds, nil, nil
}

func (b *builder) convert(ctx context.Context, in input, prefix string, sel *layerconv.Selection) (*added, error) {
	key := convKey{path: in.path, prefix: prefix, cacheDir: b.cache.Layers(), modTime: b.created, maxSize: b.maxSize, noPycRewrite: b.spec.NoPycRewrite}
	if sel != nil {
		key.sel = sel.Key()
	}
	res, owned, err := b.opts.Shared.convert(ctx, key, func() (*layerconv.Result, error) {
		return layerconv.Convert(ctx, in.path, layerconv.Options{
			Prefix: prefix, MaxSize: b.maxSize, ModTime: b.created, CacheDir: b.cache.Layers(), Select: sel,
			NoPycRewrite: b.spec.NoPycRewrite,
		})
	})
	if err != nil {
		return nil, fmt.Errorf("build: converting %s %q: %w", in.kind, in.Path, err)
	}
	conv := res
	if owned {
		conv = nil // the Shared closes it
	}
	id, err := b.identify(ctx, in, res.InputSHA256)
	if err != nil {
		if conv != nil {
			_ = conv.Close()
		}
		return nil, fmt.Errorf("build: %s %q: %w", in.kind, in.Path, err)
	}
	return &added{
		id:    id,
		layer: res.Layer, conv: conv, listing: checks.ListingFromIndex(res),
		info: LayerInfo{
			Digest: res.Digest, DiffID: res.DiffID, MediaType: b.fam.Layer,
			Size: res.Size, UncompressedSize: res.UncompressedSize,
			Source: in.name(), Kind: in.kind, Path: in.path, CacheHit: res.CacheHit,
			ARN: in.arn, CodeSha256: in.codeSha256,
		},
	}, nil
}

func describe(l v1.Layer) (LayerInfo, error) {
	var li LayerInfo
	var err error
	if li.Digest, err = l.Digest(); err != nil {
		return li, fmt.Errorf("digest: %w", err)
	}
	if li.DiffID, err = l.DiffID(); err != nil {
		return li, fmt.Errorf("diffID: %w", err)
	}
	if li.Size, err = l.Size(); err != nil {
		return li, fmt.Errorf("size: %w", err)
	}
	if li.MediaType, err = l.MediaType(); err != nil {
		return li, fmt.Errorf("media type: %w", err)
	}
	return li, nil
}

// checkDeclared refuses, before anything is converted, inputs whose
// declared sizes together with the measured base exceed the limit: a zip's
// central directory says what it holds without being inflated, so three
// zips declaring 3 GiB against a 2 GiB limit are refused in milliseconds,
// not after converting gigabytes. The input whose size crosses the limit is
// marked as the refused one.
func (b *builder) checkDeclared(inputs []input, base []checks.Layer) error {
	var total int64
	rows := make([]checks.SizeRow, 0, len(base)+len(inputs))
	for _, l := range base {
		rows = append(rows, checks.SizeRow{Digest: l.Digest, Kind: l.Kind, Source: l.Source, Size: l.Size, UncompressedSize: l.Listing.UncompressedSize})
		total += l.Listing.UncompressedSize
	}
	crossed := false
	for _, in := range inputs {
		if in.path == "" {
			continue // a layer version not downloaded: its size comes with its record
		}
		n, err := layerconv.DeclaredSize(in.path)
		if err != nil {
			// Unreadable inputs are the converter's to report, in its words.
			return nil
		}
		if total += n; total < 0 {
			total = math.MaxInt64
		}
		note := "not converted"
		if total > b.maxSize && !crossed {
			crossed, note = true, "refused before conversion"
		}
		rows = append(rows, checks.SizeRow{Kind: in.kind, Source: in.name(), UncompressedSize: n, Declared: true, Note: note})
	}
	if total <= b.maxSize {
		return nil
	}
	err := &checks.SizeError{Limit: b.maxSize, Total: total, Layers: rows}
	if base == nil {
		err.Note = "the base is not counted: the inputs alone declare more than the limit"
	}
	return &checks.Error{Findings: []checks.Finding{{Rule: checks.RuleSize, Severity: checks.Refuse, Err: err, Message: err.Error()}}}
}

// sizeError is the per-layer table when an input was refused before it was
// converted: the base layers and the converted inputs as measured, the
// refused input and those after it with the sizes their entries declare.
func (b *builder) sizeError(base []checks.Layer, adds []*added, rest []input, cause error) error {
	var rows []checks.SizeRow
	var total int64
	for _, l := range base {
		rows = append(rows, checks.SizeRow{Digest: l.Digest, Kind: l.Kind, Source: l.Source, Size: l.Size, UncompressedSize: l.Listing.UncompressedSize})
		total += l.Listing.UncompressedSize
	}
	for _, a := range adds {
		rows = append(rows, checks.SizeRow{Digest: a.info.Digest, Kind: a.info.Kind, Source: a.info.Source, Size: a.info.Size, UncompressedSize: a.info.UncompressedSize})
		total += a.info.UncompressedSize
	}
	for i, in := range rest {
		note := "not converted"
		if i == 0 {
			note = "refused before conversion"
		}
		n, err := layerconv.DeclaredSize(in.path)
		if err != nil {
			note += ", unreadable: " + err.Error()
		}
		rows = append(rows, checks.SizeRow{Kind: in.kind, Source: in.name(), UncompressedSize: n, Declared: true, Note: note})
		total += n
	}
	if total <= b.maxSize {
		// The declared sizes do not add up to the limit (they leave out
		// what layerconv counts on top): the converter's own words then.
		return fmt.Errorf("build: %w", cause)
	}
	err := &checks.SizeError{Limit: b.maxSize, Total: total, Layers: rows}
	return &checks.Error{Findings: []checks.Finding{{Rule: checks.RuleSize, Severity: checks.Refuse, Err: err, Message: err.Error()}}}
}
