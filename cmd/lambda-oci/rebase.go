package main

import (
	"errors"
	"fmt"
	"runtime"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/config"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
	"github.com/lambda-oci/lambda-oci/source"
)

func newRebaseCmd(a *app) *cobra.Command {
	var base, rt, file string
	var only []string
	var failFast bool
	var cache cacheFlags
	var out outputFlags
	var push pushFlags
	cmd := &cobra.Command{
		Use:   "rebase IMAGE --base REF [--runtime ID] (--tag REF | --oci-layout DIR | --tarball FILE)... | rebase -f lambda-oci.yaml [--only NAME ...]",
		Short: "Move a built image onto a newer base without rebuilding it",
		Long: `Move an image lambda-oci built onto a newer base (AWS republishes its base
images about weekly with security fixes) without converting anything.

The image's provenance label records its base layer by layer; rebase refuses
an image whose first layers are not exactly that base, or whose other layers
are not the ones recorded, naming what differs, and a new base for another
architecture, runtime family or task root. The result is the new base's
config and layers, the image's own layers as they are, CMD, the environment
the build set (over the new base's), the provenance naming the new base: the
image a fresh build of the same inputs on the new base gives, digest for
digest. Lambda's rules are checked on it as in build. A push uploads only
what the repository lacks: the config and the manifest when the new base's
layers are already there.

IMAGE is read as by "lambda-oci check". --base is the new base (a registry
reference or oci:PATH[:TAG]); --runtime the runtime id whose AWS base image
to take instead (and whose handler convention is checked).

With -f lambda-oci.yaml, each function (--only NAME to pick some) is read
from its first tag (or, untagged, from --oci-layout DIR under the name build
-f gave it), rebased onto the base the file gives it (the tag as it resolves
now) and written where build -f writes it; --jobs functions at a time. stdout
carries NAME=REPO@sha256:... lines. The lock file is left as it is: run
"lambda-oci update" to pin the new bases.

stdout carries only NAME@sha256:... (or, with --json, one JSON object).`,
		Example: `  lambda-oci rebase 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1 \
    --runtime python3.12 --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1-patched
  lambda-oci rebase oci:./out:fn --base oci:./newbase:latest --oci-layout rebased
  lambda-oci rebase -f lambda-oci.yaml`,
		Args: usageArgs(cobra.MaximumNArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := push.validate(); err != nil {
				return usage(err)
			}
			cacheDir, err := cache.dir(a)
			if err != nil {
				return err
			}
			opts := build.Options{CacheDir: cacheDir, Getenv: a.getenv, Events: events(a, false), Version: imageVersion()}
			if file != "" {
				if len(args) > 0 || base != "" || rt != "" || len(out.tags) > 0 || out.tarball != "" {
					return usage(errors.New("with -f the file gives each function's image, base and tags: pass no IMAGE, --base, --runtime, --tag or --tarball"))
				}
				return runRebaseFile(cmd, a, file, only, failFast, opts, out, push)
			}
			if len(only) > 0 || failFast {
				return usage(errors.New("--only and --fail-fast need -f FILE"))
			}
			var missing []string
			if len(args) == 0 {
				missing = append(missing, "IMAGE")
			}
			if base == "" && rt == "" {
				missing = append(missing, "--base REF or --runtime ID")
			}
			if err := missingFlags(append(missing, out.missing()...)...); err != nil {
				return usage(err)
			}
			if err := out.validate(); err != nil {
				return usage(err)
			}
			opts.Registry = push.options(a)
			defer push.pushed()
			src, err := openBuilt(cmd, args[0], opts.Registry)
			if err != nil {
				return err
			}
			res, pub, err := build.PublishRebase(cmd.Context(), build.RebaseSpec{Image: src, Name: args[0], Base: base, Runtime: rt},
				push.record(out.publisher(opts.Registry, a)), opts)
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
	fs.StringVar(&base, "base", "", "the new base image `REF`: a registry reference or oci:PATH[:TAG]")
	fs.StringVar(&rt, "runtime", "", "Lambda runtime `ID`: its AWS base image is the new base (with --base: only the handler convention)")
	fs.StringVarP(&file, "file", "f", "", "rebase every function of a lambda-oci.yaml `FILE` onto the base it names")
	fs.StringArrayVar(&only, "only", nil, "with -f: rebase only the function `NAME` (repeatable)")
	fs.BoolVar(&failFast, "fail-fast", false, "with -f: stop at the first function that fails")
	cache.bind(fs)
	out.bind(fs)
	push.bind(fs)
	return cmd
}

// openBuilt reads the image to rebase: one platform, never an index
// (lambda-oci pushes single-platform manifests only).
func openBuilt(cmd *cobra.Command, ref string, ropts registry.Options) (v1.Image, error) {
	src, err := source.Open(cmd.Context(), ref, ropts)
	if err != nil {
		return nil, err
	}
	if src.Image == nil {
		return nil, fmt.Errorf("rebase %s: an index, not an image lambda-oci built (its images are single-platform manifests)", ref)
	}
	return src.Image, nil
}

// runRebaseFile is rebase -f: every (or --only) function of the file,
// --jobs at a time, sharing the new bases and their measurements.
func runRebaseFile(cmd *cobra.Command, a *app, file string, only []string, failFast bool, opts build.Options, out outputFlags, push pushFlags) error {
	a = &app{stdout: a.stdout, stderr: &lockedWriter{w: a.stderr}, getenv: a.getenv}
	opts.Events = events(a, false)
	out.ociLayout = cleanPath(out.ociLayout)
	cf, err := config.Load(file, config.Options{Getenv: a.getenv})
	if err != nil {
		return err
	}
	fns, err := selectFunctions(cf, only)
	if err != nil {
		return err
	}
	ropts := push.options(a)
	ropts.Quiet = true
	jobs := push.jobs
	if jobs <= 0 {
		jobs = max(4, runtime.NumCPU())
	}
	ropts.Jobs = 0
	opts.Registry = ropts
	opts.Shared = build.NewShared()
	defer opts.Shared.Close()

	ctx := cmd.Context()
	lines := make([]string, len(fns))
	errs := make([]error, len(fns))
	results := make([]fileFunctionJSON, len(fns))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(jobs)
	for i, fn := range fns {
		g.Go(func() error {
			err := func() error {
				if gctx.Err() != nil {
					return build.ErrStopped
				}
				from := ""
				switch {
				case len(fn.Tags) > 0:
					from = fn.Tags[0]
				case out.ociLayout != "":
					from = registry.LayoutPrefix + out.ociLayout + ":" + layoutName(fn)
				default:
					return fmt.Errorf("nowhere to read the image from: %s, or pass --oci-layout DIR", fn.Untagged)
				}
				o := opts
				o.Events = func(e build.Event) { e.Message = fn.Name + ": " + e.Message; opts.Events(e) }
				src, err := openBuilt(cmd, from, ropts)
				if err != nil {
					return err
				}
				res, pub, err := build.PublishRebase(gctx, build.RebaseSpec{Image: src, Name: from,
					Base: fn.Spec.Base, BaseImage: fn.Spec.BaseImage, Runtime: fn.Spec.Runtime,
					MaxSize: fn.Spec.MaxSize, AllowArchMismatch: fn.Spec.AllowArchMismatch},
					filePublisher(fn, out.ociLayout, ropts, a), o)
				if err != nil {
					return err
				}
				r := build.TargetResult{Name: fn.Name, Result: res, Publication: pub}
				j := describeFileFunction(r, fn, out.ociLayout)
				results[i] = j
				lines[i] = fn.Name + "=" + j.Reference
				return nil
			}()
			errs[i] = err
			if err != nil && failFast {
				return err
			}
			return nil
		})
	}
	_ = g.Wait()
	fe := &build.FleetError{Total: len(fns)}
	var refs []string
	report := map[string]fileFunctionJSON{}
	for i, fn := range fns {
		report[fn.Name] = results[i]
		if errs[i] != nil {
			fe.Failed = append(fe.Failed, build.TargetResult{Name: fn.Name, Err: errs[i]})
			report[fn.Name] = fileFunctionJSON{Error: errs[i].Error()}
			continue
		}
		refs = append(refs, lines[i])
	}
	logf(a, "rebased %d of %d functions (%d base fetches, %d layers listed)",
		len(fns)-len(fe.Failed), len(fns), opts.Shared.Stats().BaseFetches, opts.Shared.Stats().BaseLayerMeasures)
	var ferr error
	if len(fe.Failed) > 0 {
		ferr = fe
	}
	if push.imageRefs != "" {
		if err := publish.WriteImageRefs(push.imageRefs, refs); err != nil {
			return errors.Join(ferr, err)
		}
	}
	if out.json {
		if err := printResult(a, true, "", report); err != nil {
			return err
		}
	} else if len(refs) > 0 {
		if _, err := fmt.Fprintln(a.stdout, strings.Join(refs, "\n")); err != nil {
			return err
		}
	}
	return ferr
}
