package image

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"golang.org/x/sync/errgroup"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/layerconv"
)

// runtimeBootstrap is what /lambda-entrypoint.sh executes.
const runtimeBootstrap = "/var/runtime/bootstrap"

// reservedEnv are the variables Lambda sets itself; values baked into the
// image are overwritten or break the runtime (AWS "Defined runtime
// environment variables").
var reservedEnv = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_LAMBDA_RUNTIME_API", "LAMBDA_TASK_ROOT", "LAMBDA_RUNTIME_DIR",
}

// SizeError is an image over Lambda's uncompressed size limit, with the
// per-layer breakdown that shows what to trim.
type SizeError struct {
	Limit  int64
	Total  int64
	Layers []LayerInfo
}

func (e *SizeError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "image is %s uncompressed, over the limit of %s (Lambda counts every layer, base included):\n",
		humanBytes(e.Total), humanBytes(e.Limit))
	fmt.Fprintf(&b, "  %-19s  %-9s  %14s  %14s  %s\n", "DIGEST", "KIND", "COMPRESSED", "UNCOMPRESSED", "SOURCE")
	var comp int64
	for _, l := range e.Layers {
		if l.Declared {
			// Never converted: no digest, no compressed size, only what
			// the input declares.
			fmt.Fprintf(&b, "  %-19s  %-9s  %14s  %14d  %s (declared size: %s)\n", "-", l.Kind, "-", l.UncompressedSize, l.Source, l.DeclaredNote)
			continue
		}
		comp += l.Size
		fmt.Fprintf(&b, "  %-19s  %-9s  %14d  %14d  %s\n", shortDigest(l.Digest), l.Kind, l.Size, l.UncompressedSize, l.Source)
	}
	fmt.Fprintf(&b, "  %-19s  %-9s  %14d  %14d", "total", "", comp, e.Total)
	return b.String()
}

// ArchMismatchError lists native files built for another architecture.
type ArchMismatchError struct {
	Arch  string
	Files []string // "path (machine)", sorted
}

// maxListed bounds how many files an error lists.
const maxListed = 20

func (e *ArchMismatchError) Error() string {
	shown := e.Files
	more := ""
	if len(shown) > maxListed {
		more = fmt.Sprintf("\n  ... and %d more", len(shown)-maxListed)
		shown = shown[:maxListed]
	}
	return fmt.Sprintf("%d native file(s) in the added layers are not built for %s; they fail at invoke with \"exec format error\" (rebuild them, or pass --allow-arch-mismatch):\n  %s%s",
		len(e.Files), e.Arch, strings.Join(shown, "\n  "), more)
}

func shortDigest(h v1.Hash) string {
	if len(h.Hex) < 12 {
		return h.String()
	}
	return h.Algorithm + ":" + h.Hex[:12]
}

func humanBytes(n int64) string {
	units := []struct {
		name string
		size float64
	}{{"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}}
	for _, u := range units {
		if float64(n) >= u.size {
			return fmt.Sprintf("%.2f %s (%s bytes)", float64(n)/u.size, u.name, commas(n))
		}
	}
	return fmt.Sprintf("%s bytes", commas(n))
}

func commas(n int64) string {
	s := fmt.Sprint(n)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 && s[0] != '-' {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return b.String()
}

func baseName(p string) string {
	return filepath.Base(filepath.Clean(p))
}

// CreatedFromEnv is the instant a build uses when Options.Created is zero:
// SOURCE_DATE_EPOCH, else layerconv.DefaultModTime (the Unix epoch), so the
// config and the files in the new layers agree.
func CreatedFromEnv(getenv func(string) string) (time.Time, error) {
	return layerconv.ModTimeFromEnv(getenv)
}

// Build converts the sources, stacks them on the base and checks the result
// against Lambda's rules. Nothing is written outside the cache; the caller
// writes or pushes Result.Image, then calls Result.Close.
func Build(ctx context.Context, opts Options) (res *Result, err error) {
	b, err := newBuilder(opts)
	if err != nil {
		return nil, err
	}
	defer func() {
		if err != nil {
			b.close()
		}
	}()
	return b.build(ctx)
}

type builder struct {
	opts     Options
	platform v1.Platform
	fam      family
	taskRoot string
	created  time.Time
	maxSize  int64
	scan     scanner
	warnings []string
	convs    []*layerconv.Result
}

func newBuilder(opts Options) (*builder, error) {
	if opts.Base == nil {
		return nil, errors.New("build: no base image")
	}
	if opts.Code.Path == "" {
		return nil, errors.New("build: no function code (a zip or a directory)")
	}
	if opts.Handler == "" {
		return nil, errors.New("build: no handler: Lambda passes it as the one CMD argument")
	}
	if strings.ContainsAny(opts.Handler, " \t\n\x00") {
		return nil, fmt.Errorf("build: handler %q: must not contain whitespace", opts.Handler)
	}
	p, err := PlatformFor(opts.Arch)
	if err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	if opts.Runtime != "" {
		// Deprecated ids are fine here (their family still tells where the
		// handler lives); unknown ones are a typo worth stopping for.
		if _, err := LookupRuntime(opts.Runtime); err != nil && !errors.Is(err, ErrDeprecatedRuntime) {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	b := &builder{opts: opts, platform: p, created: opts.Created, maxSize: opts.MaxSize, scan: scanner{cacheDir: opts.CacheDir}}
	if b.maxSize == 0 {
		b.maxSize = DefaultMaxSize
	}
	if b.maxSize < 0 {
		return nil, fmt.Errorf("build: max size %d: want a positive number of bytes", opts.MaxSize)
	}
	if b.created.IsZero() {
		if b.created, err = CreatedFromEnv(os.Getenv); err != nil {
			return nil, fmt.Errorf("build: %w", err)
		}
	}
	b.created = b.created.Truncate(time.Second).UTC()
	return b, nil
}

func (b *builder) warn(format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	b.warnings = append(b.warnings, msg)
	if b.opts.Warn != nil {
		b.opts.Warn(msg)
	}
}

func (b *builder) close() error {
	var errs []error
	for _, c := range b.convs {
		if c != nil {
			errs = append(errs, c.Close())
		}
	}
	b.convs = nil
	return errors.Join(errs...)
}

// Close releases the converted layers' temporary files (cached layers stay
// in the cache). Result.Image cannot be read after Close.
func (r *Result) Close() error {
	if r == nil || r.closer == nil {
		return nil
	}
	return r.closer()
}

// added is one layer the build appends.
type added struct {
	info  LayerInfo
	layer v1.Layer
	scan  *layerScan
	desc  string // history created_by
}

func (b *builder) build(ctx context.Context) (*Result, error) {
	base := b.opts.Base
	mt, err := base.MediaType()
	if err != nil {
		return nil, fmt.Errorf("build: reading base manifest: %w", err)
	}
	if b.fam, err = familyOf(mt); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	cf, err := base.ConfigFile()
	if err != nil {
		return nil, fmt.Errorf("build: reading base config: %w", err)
	}
	if got := cf.Platform(); !platformMatches(got, b.platform) {
		return nil, fmt.Errorf("build: base image is %s, but --arch %s needs %s", platformString(got), b.opts.Arch, platformString(&b.platform))
	}
	if b.taskRoot, err = TaskRoot(base); err != nil {
		return nil, fmt.Errorf("build: %w", err)
	}
	env, err := b.mergeEnv(cf.Config.Env)
	if err != nil {
		return nil, err
	}
	b.checkEntrypoint(cf.Config.Entrypoint)
	baseLayers, err := base.Layers()
	if err != nil {
		return nil, fmt.Errorf("build: reading base layers: %w", err)
	}
	baseInfos := make([]LayerInfo, len(baseLayers))
	for i, l := range baseLayers {
		if baseInfos[i], err = describeLayer(l); err != nil {
			return nil, fmt.Errorf("build: base layer %d: %w", i+1, err)
		}
		baseInfos[i].Kind, baseInfos[i].Source = "base", b.baseName()
		if !gzipLayer(baseInfos[i].MediaType) {
			return nil, fmt.Errorf("build: base layer %s has media type %q: Lambda accepts only gzip-compressed layers", baseInfos[i].Digest, baseInfos[i].MediaType)
		}
	}

	// Base layers are measured (and, where relevant, listed) while the new
	// layers are converted: both are bound by decompression or compression.
	basePrefixes := b.basePrefixes()
	baseScans := make([]*layerScan, len(baseLayers))
	var adds []*added
	var refused *tooLarge
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(runtime.NumCPU() + 1)
	for i, l := range baseLayers {
		g.Go(func() error {
			s, err := b.scan.scan(gctx, l, basePrefixes, false)
			if err != nil {
				return fmt.Errorf("build: measuring base layer %s: %w", baseInfos[i].Digest, err)
			}
			baseScans[i] = s
			return nil
		})
	}
	g.Go(func() error {
		var err error
		adds, refused, err = b.convertAll(gctx)
		return err
	})
	if err := g.Wait(); err != nil {
		return nil, err
	}
	for i := range baseInfos {
		baseInfos[i].UncompressedSize = baseScans[i].UncompressedSize
	}
	if refused != nil {
		return nil, b.sizeErrorFor(baseInfos, adds, refused)
	}

	view := fsView{}
	for _, s := range baseScans {
		view.apply(s)
	}
	baseHasBootstrap := view.exists(runtimeBootstrap)
	fam, ver := b.runtimeFamily(view)
	for _, a := range adds {
		view.apply(a.scan)
	}

	if bl, err := b.bootstrapLayer(ctx, view, baseHasBootstrap, fam); err != nil {
		return nil, err
	} else if bl != nil {
		adds = append(adds, bl)
	}

	if err := b.checkHandler(view, fam, ver); err != nil {
		return nil, err
	}
	if err := b.checkArch(adds); err != nil {
		return nil, err
	}

	infos := append([]LayerInfo{}, baseInfos...)
	var total, comp int64
	for _, a := range adds {
		infos = append(infos, a.info)
	}
	for _, l := range infos {
		total += l.UncompressedSize
		comp += l.Size
	}
	if total > b.maxSize {
		return nil, &SizeError{Limit: b.maxSize, Total: total, Layers: infos}
	}

	img, err := b.assemble(cf, env, adds)
	if err != nil {
		return nil, err
	}
	raw, err := img.RawManifest()
	if err != nil {
		return nil, fmt.Errorf("build: computing manifest: %w", err)
	}
	if len(raw) > ManifestSizeAdvice {
		b.warn("manifest is %d bytes, over the %d AWS recommends for fast pulls (%d layers): merge layers to shrink it", len(raw), ManifestSizeAdvice, len(infos))
	}
	dig, err := img.Digest()
	if err != nil {
		return nil, fmt.Errorf("build: computing digest: %w", err)
	}
	return &Result{
		Image: img, Digest: dig, MediaType: b.fam.manifest, Platform: b.platform,
		Size: comp, UncompressedSize: total, ManifestSize: int64(len(raw)),
		Family: fam, Layers: infos, Warnings: b.warnings,
		closer: b.close,
	}, nil
}

func (b *builder) baseName() string {
	if b.opts.BaseName != "" {
		return "base " + b.opts.BaseName
	}
	return "base"
}

func gzipLayer(mt types.MediaType) bool {
	switch mt {
	case types.DockerLayer, types.OCILayer, types.DockerForeignLayer, types.OCIRestrictedLayer:
		return true
	}
	return false
}

func describeLayer(l v1.Layer) (LayerInfo, error) {
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

// basePrefixes are the base paths the checks look at: the handler search
// roots, the runtime bootstrap and the language binaries that tell the
// runtime family.
func (b *builder) basePrefixes() []string {
	pre := []string{"opt/", "var/lang/bin/", strings.TrimPrefix(runtimeBootstrap, "/")}
	tr := strings.TrimPrefix(b.taskRoot, "/") + "/"
	pre = append(pre, tr)
	sort.Strings(pre)
	return pre
}

// convertAll converts the layers in order, then the code; one at a time,
// since each conversion already uses every core for compression. An input
// over the size limit on its own stops the conversions without failing
// them: the caller still owes the user the per-layer table (rule 4), so it
// gets the layers converted so far and the index of the refused input.
func (b *builder) convertAll(ctx context.Context) (adds []*added, refused *tooLarge, err error) {
	n := len(b.opts.Layers)
	for i, src := range b.opts.Layers {
		a, err := b.convert(ctx, src, "/opt", "layer")
		if errors.Is(err, layerconv.ErrTooLarge) {
			return adds, &tooLarge{index: i, err: err}, nil
		}
		if err != nil {
			return nil, nil, err
		}
		a.desc = fmt.Sprintf("lambda-oci: layer %d/%d %s at /opt (%s)", i+1, n, a.info.Source, a.info.Digest)
		adds = append(adds, a)
	}
	a, err := b.convert(ctx, b.opts.Code, b.taskRoot, "code")
	if errors.Is(err, layerconv.ErrTooLarge) {
		return adds, &tooLarge{index: n, err: err}, nil
	}
	if err != nil {
		return nil, nil, err
	}
	a.desc = fmt.Sprintf("lambda-oci: function code %s at %s (%s)", a.info.Source, b.taskRoot, a.info.Digest)
	adds = append(adds, a)
	return adds, nil, nil
}

// tooLarge is an input layerconv refused as over the limit by itself.
type tooLarge struct {
	index int // into Layers, then len(Layers) for the code
	err   error
}

// sizeErrorFor is the per-layer table when an input was refused before it
// was converted: the base layers and the converted inputs as measured, the
// refused input and those after it with the sizes their entries declare.
func (b *builder) sizeErrorFor(baseInfos []LayerInfo, adds []*added, tl *tooLarge) error {
	infos := append([]LayerInfo{}, baseInfos...)
	for _, a := range adds {
		infos = append(infos, a.info)
	}
	srcs := append(append([]Source{}, b.opts.Layers...), b.opts.Code)
	for i := tl.index; i < len(srcs); i++ {
		kind := "layer"
		if i == len(b.opts.Layers) {
			kind = "code"
		}
		note := "not converted"
		if i == tl.index {
			note = "refused before conversion"
		}
		n, err := declaredSize(srcs[i].Path)
		if err != nil {
			note += ", unreadable: " + err.Error()
		}
		infos = append(infos, LayerInfo{Kind: kind, Source: srcs[i].name(), Path: srcs[i].Path,
			UncompressedSize: n, Declared: true, DeclaredNote: note})
	}
	var total int64
	for _, l := range infos {
		total += l.UncompressedSize
	}
	if total <= b.maxSize {
		// The declared sizes do not add up to the limit (they leave out
		// what layerconv counts on top): the converter's own words then.
		return fmt.Errorf("build: %w", tl.err)
	}
	return &SizeError{Limit: b.maxSize, Total: total, Layers: infos}
}

// declaredSize is what an input says it holds without being read: the sum
// of a zip's central-directory sizes, or of a directory's file sizes
// (symlinks count their target's length, as layerconv counts them).
func declaredSize(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	var total int64
	if !fi.IsDir() {
		zr, err := zip.OpenReader(p)
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return 0, err
		}
		defer zr.Close()
		for _, f := range zr.File {
			if total += int64(f.UncompressedSize64); total < 0 {
				return math.MaxInt64, nil
			}
		}
		return total, nil
	}
	err = filepath.WalkDir(p, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		switch {
		case d.Type().IsRegular():
			info, err := d.Info()
			if err != nil {
				return err
			}
			total += info.Size()
		case d.Type()&fs.ModeSymlink != 0:
			t, err := os.Readlink(path)
			if err != nil {
				return err
			}
			total += int64(len(t))
		}
		return nil
	})
	return total, err
}

func (b *builder) convert(ctx context.Context, src Source, prefix, kind string) (*added, error) {
	res, err := layerconv.Convert(ctx, src.Path, layerconv.Options{
		Prefix: prefix, MaxSize: b.maxSize, ModTime: b.created, CacheDir: b.opts.CacheDir,
	})
	if err != nil {
		return nil, fmt.Errorf("build: converting %s %q: %w", kind, src.Path, err)
	}
	b.convs = append(b.convs, res)
	return &added{
		layer: res.Layer,
		scan:  scanFromIndex(res),
		info: LayerInfo{
			Digest: res.Digest, DiffID: res.DiffID, MediaType: b.fam.layer,
			Size: res.Size, UncompressedSize: res.UncompressedSize,
			Source: src.name(), Kind: kind, Path: src.Path, CacheHit: res.CacheHit,
		},
	}, nil
}

// runtimeFamily picks the handler convention: the runtime id, the explicit
// family, the AWS base reference, then the base's own files.
func (b *builder) runtimeFamily(baseView fsView) (fam, ver string) {
	if b.opts.Runtime != "" {
		for _, r := range Runtimes() {
			if r.ID == b.opts.Runtime {
				return r.Family, r.Version
			}
		}
	}
	if b.opts.Family != "" {
		return b.opts.Family, ""
	}
	if f, v := familyVersionFromRef(b.opts.BaseName); f != "" {
		if f == "nodejs" || f == "python" {
			return f, v
		}
		return f, ""
	}
	return detectFamily(baseView)
}

func (b *builder) checkHandler(view fsView, fam, ver string) error {
	if fam == "provided" {
		if view.exists(runtimeBootstrap) {
			return nil
		}
		return &HandlerError{Handler: b.opts.Handler, Family: fam, Reason: fmt.Sprintf(
			"custom runtime without a bootstrap: searched %s, %s and %s",
			path.Join(b.taskRoot, "bootstrap"), "/opt/bootstrap", runtimeBootstrap)}
	}
	groups, checked, err := handlerCandidates(fam, ver, b.taskRoot, b.opts.Handler)
	if err != nil {
		return fmt.Errorf("build: %w", err)
	}
	if !checked {
		return nil
	}
	paths, shown := flatten(groups)
	if _, ok := findAny(view, paths); ok {
		return nil
	}
	return fmt.Errorf("build: %w", &HandlerError{Handler: b.opts.Handler, Family: fam, Searched: paths, Shown: shown})
}

// bootstrapLayer makes /var/runtime/bootstrap exist for custom-runtime
// code: Lambda runs bootstrap from the task root, else /opt/bootstrap, for
// zip functions, but the base's entrypoint always runs /var/runtime/bootstrap.
func (b *builder) bootstrapLayer(ctx context.Context, view fsView, baseHas bool, fam string) (*added, error) {
	target := ""
	for _, c := range []string{path.Join(b.taskRoot, "bootstrap"), "/opt/bootstrap"} {
		if view.exists(c) {
			target = c
			break
		}
	}
	if baseHas {
		// The base's own runtime wins over the function's: as a zip function
		// this code ran its bootstrap, in this image it will not.
		if target != "" && fam == "provided" {
			b.warn("the base has its own %s, so the function's %s will not run: use a base without one (public.ecr.aws/lambda/provided) to run it", runtimeBootstrap, target)
		}
		return nil, nil
	}
	if target == "" {
		if fam != "provided" && fam != "" {
			b.warn("the base has no %s and neither the code nor a layer carries bootstrap: the %s entrypoint may fail to start", runtimeBootstrap, fam)
		}
		return nil, nil
	}
	layer, err := symlinkLayer(strings.TrimPrefix(runtimeBootstrap, "/"), target, b.created, b.fam.layer)
	if err != nil {
		return nil, fmt.Errorf("build: bootstrap link layer: %w", err)
	}
	info, err := describeLayer(layer)
	if err != nil {
		return nil, fmt.Errorf("build: bootstrap link layer: %w", err)
	}
	rec, err := scanLayer(ctx, layer, []string{""}, false)
	if err != nil {
		return nil, fmt.Errorf("build: bootstrap link layer: %w", err)
	}
	info.UncompressedSize = rec.UncompressedSize
	info.Kind, info.Source = "bootstrap", runtimeBootstrap+" -> "+target
	view.apply(rec)
	return &added{
		layer: layer, scan: rec, info: info,
		desc: fmt.Sprintf("lambda-oci: %s -> %s (%s)", runtimeBootstrap, target, info.Digest),
	}, nil
}

// symlinkLayer is a tiny gzip layer holding one symlink and its parent
// directories, deterministic like everything layerconv writes.
func symlinkLayer(name, target string, mtime time.Time, mt types.MediaType) (v1.Layer, error) {
	var tb bytes.Buffer
	tw := tar.NewWriter(&tb)
	dirs := strings.Split(path.Dir(name), "/")
	for i := range dirs {
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: strings.Join(dirs[:i+1], "/") + "/", Mode: 0o755, ModTime: mtime, Format: tar.FormatUSTAR}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	hdr := &tar.Header{Typeflag: tar.TypeSymlink, Name: name, Linkname: target, Mode: 0o777, ModTime: mtime, Format: tar.FormatUSTAR}
	if err := tw.WriteHeader(hdr); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var gz bytes.Buffer
	zw, err := gzip.NewWriterLevel(&gz, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(tb.Bytes()); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	l, err := layerFromBytes(gz.Bytes())
	if err != nil {
		return nil, err
	}
	return typedLayer{l, mt}, nil
}

func layerFromBytes(blob []byte) (v1.Layer, error) {
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(blob)), nil
	})
}

func (b *builder) checkArch(adds []*added) error {
	want := uint16(elfMachineX8664)
	if b.platform.Architecture == "arm64" {
		want = elfMachineAArch64
	}
	var bad []string
	for p, m := range mergedELF(adds) {
		if m != want {
			bad = append(bad, fmt.Sprintf("/%s (%s)", p, elfMachineName(m)))
		}
	}
	if len(bad) == 0 {
		return nil
	}
	sort.Strings(bad)
	err := &ArchMismatchError{Arch: b.opts.Arch, Files: bad}
	if b.opts.AllowArchMismatch {
		b.warn("%s", strings.Replace(err.Error(), " (rebuild them, or pass --allow-arch-mismatch)", " (allowed by --allow-arch-mismatch)", 1))
		return nil
	}
	return fmt.Errorf("build: %w", err)
}

// mergedELF is the ELF files the container sees, by path, with their
// machines: the added layers stacked in order, so a later layer's file (ELF
// or not), a directory put in a file's place, or a whiteout replaces what an
// earlier layer wrote. Only what Lambda would run counts: a library a later
// layer overrides is never loaded. Base layers are not read for ELF headers;
// the base is the platform's own.
func mergedELF(adds []*added) map[string]uint16 {
	elf := map[string]uint16{}
	dirs := map[string]bool{} // directories the added layers made, so far
	removeUnder := func(p string) {
		pre := p + "/"
		for k := range elf {
			if strings.HasPrefix(k, pre) {
				delete(elf, k)
			}
		}
	}
	for _, a := range adds {
		// A layer's entries replace the lower layers' before its own ELF
		// files are added: a whiteout never hides its own layer's files.
		for _, e := range a.scan.Entries {
			switch e.Type {
			case entWhiteout:
				delete(elf, e.Path)
				removeUnder(e.Path)
				delete(dirs, e.Path)
			case entOpaque:
				removeUnder(e.Path)
			case entDir:
				delete(elf, e.Path)
				dirs[e.Path] = true
			default:
				delete(elf, e.Path)
				if dirs[e.Path] {
					removeUnder(e.Path)
					delete(dirs, e.Path)
				}
			}
		}
		for _, f := range a.scan.ELF {
			elf[f.Path] = f.Machine
		}
	}
	return elf
}

// checkEntrypoint warns about bases Lambda cannot start the way the AWS
// images start: CMD = [handler] only works behind an entrypoint that takes
// the handler as its argument, and Lambda wants an absolute path.
func (b *builder) checkEntrypoint(ep []string) {
	switch {
	case len(ep) == 0:
		b.warn("the base has no ENTRYPOINT: Lambda would run CMD [%s] as a program; use a Lambda base image or one whose entrypoint takes the handler", b.opts.Handler)
	case !path.IsAbs(ep[0]):
		b.warn("the base's ENTRYPOINT %q is not an absolute path, which Lambda requires", ep[0])
	}
}

// mergeEnv adds the --env values to the base's, replacing keys the base
// sets, and warns about values that will not do what the user expects.
func (b *builder) mergeEnv(base []string) ([]string, error) {
	env := append([]string{}, base...)
	for _, kv := range b.opts.Env {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(kv, "\x00") || strings.ContainsAny(k, " \t\n") {
			return nil, fmt.Errorf("build: env %q: want KEY=VALUE", kv)
		}
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
		if (k == "PYTHONPATH" || k == "NODE_PATH") && len(b.opts.Layers) > 0 {
			b.warn("%s is set while layers are present: the runtime then leaves out the /opt paths where layers put their packages; append them to %s yourself", k, k)
		}
		for _, r := range reservedEnv {
			if k == r {
				b.warn("%s is reserved by Lambda: the runtime sets it and a value in the image is overwritten or breaks the runtime", k)
			}
		}
	}
	return env, nil
}

// typedLayer gives a layer the base family's media type, in the manifest
// and in the layer's own MediaType (validate.Image compares the two).
// Embedding only the v1.Layer interface hides any Descriptor method of the
// wrapped layer, so the descriptor is computed from these values.
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }

// assemble appends the layers in the base's media-type family and sets the
// config: base ENTRYPOINT, ENV, WORKDIR kept, CMD = [handler].
func (b *builder) assemble(baseCfg *v1.ConfigFile, env []string, adds []*added) (v1.Image, error) {
	addenda := make([]mutate.Addendum, 0, len(adds))
	for _, a := range adds {
		addenda = append(addenda, mutate.Addendum{
			Layer:     typedLayer{a.layer, b.fam.layer},
			MediaType: b.fam.layer,
			History: v1.History{
				Created:   v1.Time{Time: b.created},
				CreatedBy: a.desc,
				Comment:   a.info.Kind,
			},
		})
	}
	img, err := mutate.Append(b.opts.Base, addenda...)
	if err != nil {
		return nil, fmt.Errorf("build: appending layers: %w", err)
	}
	cfg := baseCfg.Config.DeepCopy()
	cfg.Env = env
	cfg.Cmd = []string{b.opts.Handler}
	img, err = mutate.Config(img, *cfg)
	if err != nil {
		return nil, fmt.Errorf("build: setting config: %w", err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: b.created})
	if err != nil {
		return nil, fmt.Errorf("build: setting created: %w", err)
	}
	return img, nil
}
