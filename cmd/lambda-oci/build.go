package main

import (
	"context"
	"fmt"
	"math/big"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

type buildFlags struct {
	runtime           string
	base              string
	arch              string
	layers            []string
	code              string
	handler           string
	env               []string
	maxSize           string
	allowArchMismatch bool
	cacheDir          string
	noCache           bool
}

func newBuildCmd(a *app) *cobra.Command {
	var f buildFlags
	var out outputFlags
	var push pushFlags
	cmd := &cobra.Command{
		Use:   "build (--runtime ID | --base REF) --code ZIP|DIR --handler HANDLER [--layer ZIP ...] OUTPUT...",
		Short: "Stack Lambda layers and function code on a Lambda base image",
		Long: `Build one Lambda-ready image: the base for --arch, each --layer zip at /opt in
order, the code at the task root, CMD set to the handler. Lambda's rules are
checked before anything is written or pushed: 10 GiB uncompressed size, one
manifest in the base's media-type family, the handler's module present, native
code built for --arch.

--base takes a registry reference or oci:PATH[:TAG] (an OCI image layout on
disk). With --runtime the base is the AWS image for that runtime (see
"lambda-oci runtimes"); with both, --base is the image and --runtime only
selects the handler check.

stdout carries only NAME@sha256:... (or, with --json, one JSON object).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			spec, err := f.spec(a)
			if err != nil {
				return err
			}
			// Refuse bad output flags before any layer is downloaded.
			if err := out.validate(); err != nil {
				return err
			}
			cleanup, err := fetchLayerARNs(cmd.Context(), a, &spec)
			defer cleanup()
			if err != nil {
				return err
			}
			_, err = buildAndEmit(cmd.Context(), a, spec, out, push)
			return err
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.runtime, "runtime", "", "Lambda runtime `ID` (python3.12, nodejs22.x, provided.al2023, ...): its AWS base image and handler convention")
	fs.StringVar(&f.base, "base", "", "base image `REF`: a registry reference or oci:PATH[:TAG]")
	fs.StringVar(&f.arch, "arch", "x86_64", "Lambda architecture: x86_64 or arm64")
	fs.StringArrayVar(&f.layers, "layer", nil, "Lambda layer `ZIP` or layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION), extracted under /opt (repeatable; order kept)")
	fs.StringVar(&f.code, "code", "", "function code: a `ZIP` or a directory, placed at the task root")
	fs.StringVar(&f.handler, "handler", "", "the function's `HANDLER` (app.handler); becomes CMD")
	fs.StringArrayVar(&f.env, "env", nil, "add `KEY=VALUE` to the image environment (repeatable)")
	fs.StringVar(&f.maxSize, "max-size", "10GiB", "limit on the uncompressed size of all layers, base included (B, KB, MB, GB, KiB, MiB, GiB)")
	fs.BoolVar(&f.allowArchMismatch, "allow-arch-mismatch", false, "warn instead of failing when native files in layers or code are built for another architecture")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "cache for converted layers and base layer sizes (default $"+layerconv.CacheDirEnv+", else the user cache dir)")
	fs.BoolVar(&f.noCache, "no-cache", false, "convert and measure everything afresh; write no cache")
	out.bind(fs)
	push.bind(fs)
	return cmd
}

func (f buildFlags) spec(a *app) (buildSpec, error) {
	if f.code == "" {
		return buildSpec{}, fmt.Errorf("--code is required (a zip or a directory)")
	}
	if f.handler == "" {
		return buildSpec{}, fmt.Errorf("--handler is required: it becomes CMD, the one argument the Lambda entrypoint takes")
	}
	if f.runtime == "" && f.base == "" {
		return buildSpec{}, fmt.Errorf("--runtime or --base is required")
	}
	maxSize, err := parseSize(f.maxSize)
	if err != nil {
		return buildSpec{}, fmt.Errorf("--max-size: %w", err)
	}
	cacheDir, err := resolveCacheDir(a, f.cacheDir, f.noCache)
	if err != nil {
		return buildSpec{}, err
	}
	spec := buildSpec{
		Runtime: f.runtime, Base: f.base, Arch: f.arch, Handler: f.handler, Env: f.env,
		MaxSize: maxSize, AllowArchMismatch: f.allowArchMismatch, CacheDir: cacheDir,
		Code: image.Source{Path: f.code},
	}
	for _, l := range f.layers {
		spec.Layers = append(spec.Layers, image.Source{Path: l})
	}
	return spec, nil
}

// fetchLayerARNs replaces every --layer that is a layer version ARN by its
// downloaded, checksum-verified zip (cached by version ARN: versions are
// immutable). The returned cleanup removes temporary downloads.
func fetchLayerARNs(ctx context.Context, a *app, spec *buildSpec) (cleanup func(), err error) {
	var fetched []*lambdaapi.LayerFile
	cleanup = func() {
		for _, l := range fetched {
			l.Remove()
		}
	}
	lopts := lambdaapi.Options{Logf: func(format string, args ...any) { logf(a, format, args...) }}
	if spec.CacheDir != "" {
		lopts.CacheDir = filepath.Join(spec.CacheDir, "lambdaapi")
	}
	for i, l := range spec.Layers {
		path, info, err := lambdaapi.ResolveLayer(ctx, l.Path, lopts)
		if err != nil {
			return cleanup, fmt.Errorf("--layer %s: %w", l.Path, err)
		}
		if info == nil {
			continue
		}
		fetched = append(fetched, info)
		// The ARN, not the download path, names the layer in the image
		// history, so the digest does not depend on the cache location.
		spec.Layers[i] = image.Source{Path: path, Name: info.ARN}
		if w := info.CompatibilityWarning(spec.Runtime, spec.Arch); w != "" {
			logf(a, "warning: %s", w)
		}
	}
	return cleanup, nil
}

// parseSize reads "10GiB", "500MB", "1073741824".
func parseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(strings.ToLower(t), strings.ToLower(u.suffix)) {
			t, mult = strings.TrimSpace(t[:len(t)-len(u.suffix)]), u.mult
			break
		}
	}
	// Exact decimal arithmetic: a float would turn "1.5" into 1 byte
	// without a word; a fraction of a byte is refused instead.
	bad := fmt.Errorf("%q: want a positive size such as 10GiB, 500MB or a number of bytes", s)
	if t == "" || strings.ContainsAny(t, "eE/+-") {
		return 0, bad
	}
	n, ok := new(big.Rat).SetString(t)
	if !ok || n.Sign() <= 0 {
		return 0, bad
	}
	n.Mul(n, new(big.Rat).SetInt64(mult))
	if !n.IsInt() {
		return 0, fmt.Errorf("%q is %s bytes: want a whole number of bytes", s, n.FloatString(3))
	}
	if n.Num().Cmp(big.NewInt(1<<62)) > 0 {
		return 0, bad
	}
	return n.Num().Int64(), nil
}
