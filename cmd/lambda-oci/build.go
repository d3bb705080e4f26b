package main

import (
	"fmt"

	"github.com/dustin/go-humanize"
	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/registry"
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
	codeLayers        int
	cacheFrom         []string
	cache             cacheFlags
	builder           builderFlags
}

func newBuildCmd(a *app) *cobra.Command {
	var f buildFlags
	var out outputFlags
	var push pushFlags
	var ff fileFlags
	cmd := &cobra.Command{
		Use:   "build (--runtime ID | --base REF) --code ZIP|DIR --handler HANDLER [--layer ZIP|ARN ...] OUTPUT... | build -f lambda-oci.yaml [--only NAME ...]",
		Short: "Stack Lambda layers and function code on a Lambda base image",
		Long: fmt.Sprintf(`Build one Lambda-ready image: the base for --arch, each --layer zip at %s in
order, the code at the task root, CMD set to the handler. Lambda's rules are
checked on the whole image, base included, before anything is written or
pushed: %s uncompressed size, one manifest in the base's media-type family,
gzip layers, parent directory entries, no hard links, readable modes, the
handler's module present, native code built for --arch.

--base takes a registry reference or oci:PATH[:TAG] (an OCI image layout on
disk). With --runtime the base is the AWS image for that runtime (see
"lambda-oci runtimes"); with both, --base is the image and --runtime only
selects the handler check.

With -f lambda-oci.yaml, every function of the file is built in one process
(--only NAME to pick some): each base is fetched and measured once per
architecture, each layer input converted once, --jobs functions at a time.
A failing function does not stop the others unless --fail-fast; stdout then
carries NAME=REPO@sha256:... lines (--json: one object, function -> result).

stdout carries only NAME@sha256:... (or, with --json, one JSON object).`, lambda.OptDir, humanize.IBytes(uint64(lambda.MaxImageSize))),
		Example: `  lambda-oci build --runtime python3.12 --arch arm64 --layer deps.zip --code ./src --handler app.handler \
    --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1 --create-repository
  lambda-oci build --runtime nodejs22.x --code function.zip --handler index.handler --oci-layout out --json
  lambda-oci build --base oci:./base:latest --code ./src --handler app.handler --tarball image.tar`,
		Args: usageArgs(cobra.NoArgs),
		RunE: func(cmd *cobra.Command, args []string) error {
			if ff.file != "" {
				return runBuildFile(cmd, a, ff, f.cache, out, push)
			}
			if len(ff.only) > 0 || ff.failFast {
				return usage(fmt.Errorf("--only and --fail-fast need -f FILE"))
			}
			if err := missingFlags(append(f.missing(), out.missing()...)...); err != nil {
				return usage(err)
			}
			spec, opts, err := f.spec(a)
			if err != nil {
				return usage(err)
			}
			if err := out.validate(); err != nil {
				return usage(err)
			}
			if err := push.validate(); err != nil {
				return usage(err)
			}
			opts.Registry = push.options(a)
			opts.Events = push.events(a)
			push.forTags(out.tags)
			defer push.pushed()
			if addr, err := f.builder.address(a); err != nil || addr != "" {
				if err != nil {
					return usage(err)
				}
				return buildOnDaemon(cmd.Context(), a, addr, spec, opts, out, push)
			}
			res, pub, err := build.Publish(cmd.Context(), spec, push.record(out.publisher(opts.Registry, push.logTo(a))), opts)
			if err != nil {
				return out.flagError(err)
			}
			o, err := describeBuild(res, pub, out)
			if err != nil {
				return err
			}
			return printResult(a, out.json, o.Reference, o)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.runtime, "runtime", "", "Lambda runtime `ID` (python3.12, nodejs22.x, provided.al2023, ...): its AWS base image and handler convention")
	fs.StringVar(&f.base, "base", "", "base image `REF`: a registry reference or oci:PATH[:TAG]")
	fs.StringVar(&f.arch, "arch", string(lambda.X8664), "Lambda architecture: x86_64 or arm64 (amd64 and aarch64 are accepted)")
	fs.StringArrayVar(&f.layers, "layer", nil, "Lambda layer `ZIP`, directory or layer version ARN (arn:aws:lambda:REGION:ACCOUNT:layer:NAME:VERSION), extracted under "+lambda.OptDir+" (repeatable; order kept)")
	fs.StringVar(&f.code, "code", "", "function code: a `ZIP` or a directory, placed at the task root")
	fs.StringVar(&f.handler, "handler", "", "the function's `HANDLER` (app.handler); becomes CMD")
	fs.StringArrayVar(&f.env, "env", nil, "add `KEY=VALUE` to the image environment (repeatable)")
	fs.StringVar(&f.maxSize, "max-size", defaultMaxSize(), "limit on the uncompressed size of all layers, base included (B, KB, MB, GB, KiB, MiB, GiB; 10G = 10 GB)")
	fs.BoolVar(&f.allowArchMismatch, "allow-arch-mismatch", false, "warn instead of failing when native files in layers or code are built for another architecture")
	fs.IntVar(&f.codeLayers, "code-layers", 2, "`N` layers for the code: 2 puts vendored dependencies (node_modules/, *.dist-info packages, vendor/, lib/*.jar) in their own layer when unambiguous, 1 keeps one layer")
	fs.StringArrayVar(&f.cacheFrom, "cache-from", nil, "a previous image `REF` whose recorded layers and base sizes this build may reuse instead of converting and downloading (repeatable; default: the --tag references; none with --no-cache)")
	f.cache.bind(fs)
	f.builder.bind(fs)
	out.bind(fs)
	push.bind(fs)
	ff.bind(fs)
	return cmd
}

// missing names the required flags not given.
func (f buildFlags) missing() []string {
	var m []string
	if f.code == "" {
		m = append(m, "--code ZIP|DIR (the function code)")
	}
	if f.handler == "" {
		m = append(m, "--handler HANDLER (it becomes CMD, the one argument the Lambda entrypoint takes)")
	}
	if f.runtime == "" && f.base == "" {
		m = append(m, "--runtime ID or --base REF")
	}
	return m
}

func (f buildFlags) spec(a *app) (build.Spec, build.Options, error) {
	var spec build.Spec
	var opts build.Options
	if err := missingFlags(f.missing()...); err != nil {
		return spec, opts, err
	}
	if _, err := lambda.ParseArch(f.arch); err != nil {
		return spec, opts, fmt.Errorf("--arch: %w", err)
	}
	maxSize, err := parseSize(f.maxSize)
	if err != nil {
		return spec, opts, fmt.Errorf("--max-size: %w", err)
	}
	if f.codeLayers != 1 && f.codeLayers != 2 {
		return spec, opts, fmt.Errorf("--code-layers %d: want 1 or 2", f.codeLayers)
	}
	cacheDir, err := f.cache.dir(a)
	if err != nil {
		return spec, opts, err
	}
	spec = build.Spec{
		Runtime: f.runtime, Base: f.base, Arch: f.arch, Handler: f.handler, Env: f.env,
		MaxSize: maxSize, AllowArchMismatch: f.allowArchMismatch, CodeLayers: f.codeLayers,
		Code: build.Source{Path: f.code},
	}
	for _, l := range f.layers {
		spec.Layers = append(spec.Layers, build.Source{Path: l})
	}
	opts = build.Options{CacheDir: cacheDir, Getenv: a.getenv, Events: events(a, false), Version: imageVersion(),
		CacheFrom: f.cacheFrom, NoCacheFrom: f.cache.noCache}
	for _, r := range f.cacheFrom {
		if _, err := registry.ParseReference(r); err != nil {
			return spec, opts, fmt.Errorf("--cache-from: %w", err)
		}
	}
	return spec, opts, nil
}
