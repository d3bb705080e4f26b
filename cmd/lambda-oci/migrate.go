package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sort"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/layerconv"
	"github.com/lambda-oci/lambda-oci/publish"
)

type migrateFlags struct {
	function       string
	qualifier      string
	base           string
	includeEnv     bool
	emitConfig     string
	createFunction string
	cacheDir       string
	noCache        bool
	maxSize        string
	// env and allowArchMismatch mean what they mean for build.
	env               []string
	allowArchMismatch bool
	out               outputFlags
	push              pushFlags
}

// migrateLayerJSON is one layer of the --json result: the build's entry, plus
// the Lambda layer version it came from for /opt layers.
type migrateLayerJSON struct {
	layerJSON
	ARN        string `json:"arn,omitempty"`
	CodeSha256 string `json:"codeSha256,omitempty"`
}

// sourceFunctionJSON is the zip function that was migrated.
type sourceFunctionJSON struct {
	Name          string   `json:"name"`
	ARN           string   `json:"arn"`
	Version       string   `json:"version"`
	Region        string   `json:"region"`
	Handler       string   `json:"handler"`
	Architectures []string `json:"architectures"`
	CodeSha256    string   `json:"codeSha256"`
	Layers        []string `json:"layers"`
}

// migrateJSON is migrate's --json output: build's object, with the layers
// annotated, the source function, its runtime, and the configuration for the
// new image function (and the function made, with --create-function).
type migrateJSON struct {
	buildOutput
	Layers             []migrateLayerJSON               `json:"layers"`
	Function           sourceFunctionJSON               `json:"function"`
	Runtime            string                           `json:"runtime"`
	FunctionConfig     *lambdaapi.CreateFunctionRequest `json:"functionConfig"`
	FunctionConfigFile string                           `json:"functionConfigFile,omitempty"`
	CreatedFunction    *lambdaapi.CreatedFunction       `json:"createdFunction,omitempty"`
}

func newMigrateCmd(a *app) *cobra.Command {
	var f migrateFlags
	cmd := &cobra.Command{
		Use:   "migrate --function NAME|ARN [--qualifier VERSION|ALIAS] OUTPUT...",
		Short: "Turn a deployed zip function (code and layers) into an equivalent container image",
		Long: `Read a zip function as it is deployed (GetFunction) and build the image that
replaces it: the runtime's AWS base image (or --base) for the function's
architecture, its layers in their configured order at /opt (each fetched with
GetLayerVersionByArn and verified against CodeSha256), its code at the task
root, CMD = its handler. Outputs and their flags work as in "build".

Environment variables stay out of the image unless --include-env: they go
into the function configuration instead. --emit-function-config FILE writes
the CreateFunction input for the new image function (for
"aws lambda create-function --cli-input-json file://FILE"), named after
--create-function, else NAME-image; --create-function NEW_NAME creates it
and waits until it is Active. Both need the image pushed with --tag (to ECR
in the function's region): the configuration names it by registry digest.

AWS credentials, region and endpoints come from the standard AWS settings
(environment, ~/.aws, SSO, instance roles; AWS_ENDPOINT_URL_LAMBDA). Layer
versions are cached by ARN: a second migration downloads nothing again.

stdout carries only the image reference (or, with --json, one JSON object;
its copy of the function configuration shows environment variable names
only, since CI logs are no place for their values).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runMigrate(cmd.Context(), a, f)
		},
	}
	fs := cmd.Flags()
	fs.StringVar(&f.function, "function", "", "the zip function to migrate: `NAME` or ARN")
	fs.StringVar(&f.qualifier, "qualifier", "", "the function `VERSION` or alias to migrate (default $LATEST)")
	fs.StringVar(&f.base, "base", "", "base image `REF` instead of the runtime's AWS image: a mirror, a pinned digest, or oci:PATH[:TAG]")
	fs.BoolVar(&f.includeEnv, "include-env", false, "bake the function's environment variables into the image (they often hold secrets)")
	fs.StringVar(&f.emitConfig, "emit-function-config", "", "write the CreateFunction input for the image function to `FILE` (JSON)")
	fs.StringVar(&f.createFunction, "create-function", "", "create the image function `NEW_NAME` and wait until it is Active")
	fs.StringVar(&f.maxSize, "max-size", "10GiB", "limit on the uncompressed size of all layers, base included")
	fs.StringArrayVar(&f.env, "env", nil, "add `KEY=VALUE` to the image environment (repeatable; after --include-env's values, so it wins)")
	fs.BoolVar(&f.allowArchMismatch, "allow-arch-mismatch", false, "warn instead of failing when native files in layers or code are built for another architecture")
	fs.StringVar(&f.cacheDir, "cache-dir", "", "cache for layer downloads and conversions (default $"+layerconv.CacheDirEnv+", else the user cache dir)")
	fs.BoolVar(&f.noCache, "no-cache", false, "download and convert everything afresh; write no cache")
	f.out.bind(fs)
	f.push.bind(fs)
	return cmd
}

func runMigrate(ctx context.Context, a *app, f migrateFlags) error {
	// Everything that can be refused without the network is refused first.
	if f.function == "" {
		return errors.New("migrate: --function NAME|ARN is required")
	}
	if err := f.out.validate(); err != nil {
		return err
	}
	if err := f.push.validate(); err != nil {
		return err
	}
	if f.createFunction != "" && len(f.out.tags) == 0 {
		return errors.New("migrate: --create-function needs a pushed image: pass --tag ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG")
	}
	// The configuration names the image by registry digest; an image that
	// only went to a layout or a tarball has no URI Lambda could pull.
	if f.emitConfig != "" && len(f.out.tags) == 0 {
		return errors.New("migrate: --emit-function-config needs a pushed image (its Code.ImageUri): pass --tag ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG")
	}
	if f.emitConfig != "" {
		f.emitConfig = filepath.Clean(f.emitConfig)
		if err := publish.CheckFile(f.emitConfig); err != nil {
			return fmt.Errorf("--emit-function-config %s: %w", f.emitConfig, err)
		}
		if f.emitConfig == f.out.ociLayout || f.emitConfig == f.out.tarball {
			return fmt.Errorf("--emit-function-config %s is also an image output: give it its own path", f.emitConfig)
		}
	}
	maxSize, err := parseSize(f.maxSize)
	if err != nil {
		return fmt.Errorf("--max-size: %w", err)
	}
	cacheDir, err := resolveCacheDir(a, f.cacheDir, f.noCache)
	if err != nil {
		return err
	}
	lopts := lambdaapi.Options{Logf: func(format string, args ...any) { logf(a, format, args...) }}
	if cacheDir != "" {
		lopts.CacheDir = filepath.Join(cacheDir, "lambdaapi")
	}
	cfg, err := lambdaapi.LoadConfig(ctx, lopts)
	if err != nil {
		return err
	}
	lopts.AWSConfig = &cfg

	fn, err := lambdaapi.GetFunction(ctx, f.function, f.qualifier, lopts)
	if err != nil {
		return err
	}
	defer fn.Cleanup()
	if f.createFunction != "" && f.createFunction == fn.Name {
		return fmt.Errorf("migrate: --create-function %q is the zip function itself: Lambda cannot change a function's package type in place; choose a new name", f.createFunction)
	}

	// The runtime decides the base and the handler convention. A deprecated
	// runtime has no base image and its code usually needs rebuilding, so
	// it is refused even with --base; an id this version does not know is
	// fine when the user names the base.
	runtimeID := fn.Runtime
	rt, err := image.LookupRuntime(fn.Runtime)
	if err != nil {
		if rt.Deprecated() || f.base == "" {
			return fmt.Errorf("migrate: function %q: %w", fn.Name, err)
		}
		logf(a, "warning: function %s: %v; using --base %s as given", fn.Name, err, f.base)
		runtimeID = ""
	}
	if len(fn.Architectures) != 1 {
		return fmt.Errorf("migrate: function %q has architectures %v: want exactly one", fn.Name, fn.Architectures)
	}
	arch := fn.Architectures[0]
	base := f.base
	if base == "" {
		if base = image.BaseRef(rt, arch); base == "" {
			return fmt.Errorf("migrate: function %q: no %s base image for runtime %s", fn.Name, arch, fn.Runtime)
		}
	}

	var warnings []string
	var layers []*lambdaapi.LayerFile
	defer func() {
		for _, l := range layers {
			l.Remove()
		}
	}()
	spec := buildSpec{
		Runtime: runtimeID, Base: base, Arch: arch, Handler: fn.Handler,
		MaxSize: maxSize, CacheDir: cacheDir, AllowArchMismatch: f.allowArchMismatch,
		// The name is part of the image history (and so of the digest):
		// the function's name, never a path that depends on the cache.
		Code: image.Source{Path: fn.CodePath, Name: "function " + fn.Name},
	}
	for _, arn := range fn.Layers {
		l, err := lambdaapi.FetchLayer(ctx, arn, lopts)
		if err != nil {
			return fmt.Errorf("migrate: function %q: %w", fn.Name, err)
		}
		layers = append(layers, l)
		if w := l.CompatibilityWarning(fn.Runtime, arch); w != "" {
			logf(a, "warning: %s", w)
			warnings = append(warnings, w)
		}
		spec.Layers = append(spec.Layers, image.Source{Path: l.Path, Name: l.ARN})
	}
	if f.includeEnv {
		ks := make([]string, 0, len(fn.Environment))
		for k := range fn.Environment {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			spec.Env = append(spec.Env, k+"="+fn.Environment[k])
		}
	} else if len(fn.Environment) > 0 {
		logf(a, "function %s: %d environment variables kept out of the image (they go into the function configuration; --include-env bakes them in)", fn.Name, len(fn.Environment))
	}
	spec.Env = append(spec.Env, f.env...)

	// buildAndEmit prints the build's own result; migrate prints its own
	// instead, once the function configuration is known.
	quiet := *a
	quiet.stdout = io.Discard
	out := f.out
	out.json = false
	built, err := buildAndEmit(ctx, &quiet, spec, out, f.push)
	if err != nil {
		return err
	}

	newName := f.createFunction
	if newName == "" {
		newName = fn.Name + "-image"
	}
	req := lambdaapi.CreateFunctionInput(fn, newName, built.Reference, f.includeEnv)
	result := migrateJSON{
		buildOutput: *built,
		Function: sourceFunctionJSON{Name: fn.Name, ARN: fn.ARN, Version: fn.Version, Region: fn.Region, Handler: fn.Handler,
			Architectures: fn.Architectures, CodeSha256: fn.CodeSha256, Layers: fn.Layers},
		Runtime:            fn.Runtime,
		FunctionConfig:     redactEnv(req),
		FunctionConfigFile: f.emitConfig,
	}
	if result.Function.Layers == nil {
		result.Function.Layers = []string{}
	}
	result.Warnings = append(result.Warnings, warnings...)
	i := 0
	for _, l := range built.Layers {
		ml := migrateLayerJSON{layerJSON: l}
		if l.Kind == "layer" && i < len(layers) {
			ml.ARN, ml.CodeSha256 = layers[i].ARN, layers[i].CodeSha256
			i++
		}
		result.Layers = append(result.Layers, ml)
	}

	if f.emitConfig != "" {
		if err := req.WriteFunctionConfig(f.emitConfig); err != nil {
			return fmt.Errorf("migrate: image %s is written, but: %w", built.Reference, err)
		}
		logf(a, "wrote function configuration %s (aws lambda create-function --cli-input-json file://%s)", f.emitConfig, f.emitConfig)
	}
	if f.createFunction != "" {
		copts := lopts
		copts.Region = fn.Region
		created, err := lambdaapi.CreateFunction(ctx, req, copts)
		if err != nil {
			return fmt.Errorf("migrate: image %s is pushed, but: %w", built.Reference, err)
		}
		result.CreatedFunction = created
		logf(a, "function %s is %s", created.ARN, created.State)
	}

	if f.out.json {
		enc := json.NewEncoder(a.stdout)
		enc.SetIndent("", "  ")
		return enc.Encode(result)
	}
	_, err = fmt.Fprintln(a.stdout, built.Reference)
	return err
}

// redactEnv returns the request with environment values replaced, for
// printing: stdout often ends up in CI logs, and variables often hold
// secrets. The emitted file keeps the values (it is meant for CreateFunction).
func redactEnv(req *lambdaapi.CreateFunctionRequest) *lambdaapi.CreateFunctionRequest {
	if req.Environment == nil {
		return req
	}
	out := *req
	out.Environment = &lambdaapi.Environment{Variables: map[string]string{}}
	for k := range req.Environment.Variables {
		out.Environment.Variables[k] = "(redacted; see --emit-function-config)"
	}
	return &out
}
