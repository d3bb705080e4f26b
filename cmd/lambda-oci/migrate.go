package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/migrate"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

type migrateFlags struct {
	function       string
	qualifier      string
	base           string
	includeEnv     bool
	emitConfig     string
	createFunction string
	cache          cacheFlags
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
architecture, its layers in their configured order at ` + lambda.OptDir + ` (each fetched with
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
		Example: `  lambda-oci migrate --function orders \
    --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1 \
    --emit-function-config create-function.json --json
  lambda-oci migrate --function arn:aws:lambda:eu-west-1:123456789012:function:orders --qualifier live \
    --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1 --create-repository \
    --create-function orders-image`,
		Args: usageArgs(cobra.NoArgs),
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
	fs.StringVar(&f.maxSize, "max-size", defaultMaxSize(), "limit on the uncompressed size of all layers, base included")
	fs.StringArrayVar(&f.env, "env", nil, "add `KEY=VALUE` to the image environment (repeatable; after --include-env's values, so it wins)")
	fs.BoolVar(&f.allowArchMismatch, "allow-arch-mismatch", false, "warn instead of failing when native files in layers or code are built for another architecture")
	f.cache.bind(fs)
	f.out.bind(fs)
	f.push.bind(fs)
	return cmd
}

func runMigrate(ctx context.Context, a *app, f migrateFlags) error {
	// Everything that can be refused without the network is refused first.
	var missing []string
	if f.function == "" {
		missing = append(missing, "--function NAME|ARN")
	}
	if err := missingFlags(append(missing, f.out.missing()...)...); err != nil {
		return usage(fmt.Errorf("migrate: %w", err))
	}
	if err := f.out.validate(); err != nil {
		return usage(err)
	}
	if err := f.push.validate(); err != nil {
		return usage(err)
	}
	if f.createFunction != "" && len(f.out.tags) == 0 {
		return usage(errors.New("migrate: --create-function needs a pushed image: pass --tag ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG"))
	}
	// Lambda runs images only from private ECR: any other registry would
	// fail CreateFunction after the whole build and push. --registry-auth
	// ecr says the host is an ECR endpoint under another name.
	if f.createFunction != "" && !registry.IsPrivateECR(f.out.tags[0]) && f.push.registryAuth != registry.AuthECR {
		return usage(fmt.Errorf("migrate: --create-function: --tag %s is not a private Amazon ECR repository, the only place Lambda runs images from: pass --tag ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG (or --registry-auth ecr for an ECR endpoint under another name)", f.out.tags[0]))
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
	cacheDir, err := f.cache.dir(a)
	if err != nil {
		return err
	}
	req := migrate.Request{
		Function: f.function, Qualifier: f.qualifier, Base: f.base, IncludeEnv: f.includeEnv,
		Env: f.env, MaxSize: maxSize, AllowArchMismatch: f.allowArchMismatch,
		NewName: f.createFunction, ConfigFile: f.emitConfig, CreateFunction: f.createFunction != "",
	}
	opts := build.Options{CacheDir: cacheDir, Getenv: a.getenv, Registry: f.push.options(a), Version: imageVersion()}
	opts.Events = f.push.events(a)
	f.push.forTags(f.out.tags)
	defer f.push.pushed()
	res, err := migrate.Run(ctx, req, f.push.record(f.out.publisher(opts.Registry, f.push.logTo(a))), opts)
	if err != nil {
		return f.out.flagError(err)
	}
	if f.emitConfig != "" {
		logf(a, "wrote function configuration %s (aws lambda create-function --cli-input-json file://%s)", f.emitConfig, f.emitConfig)
	}
	if res.Created != nil {
		logf(a, "function %s is %s", res.Created.ARN, res.Created.State)
	}
	built, err := describeBuild(res.Build, res.Publication, f.out)
	if err != nil {
		return err
	}
	fn := res.Function
	result := migrateJSON{
		buildOutput: *built,
		Function: sourceFunctionJSON{Name: fn.Name, ARN: fn.ARN, Version: fn.Version, Region: fn.Region, Handler: fn.Handler,
			Architectures: fn.Architectures, CodeSha256: fn.CodeSha256, Layers: fn.Layers},
		Runtime:            fn.Runtime,
		FunctionConfig:     redactEnv(res.FunctionConfig),
		FunctionConfigFile: f.emitConfig,
		CreatedFunction:    res.Created,
	}
	if result.Function.Layers == nil {
		result.Function.Layers = []string{}
	}
	for i, l := range built.Layers {
		ml := migrateLayerJSON{layerJSON: l}
		ml.ARN, ml.CodeSha256 = res.Build.Layers[i].ARN, res.Build.Layers[i].CodeSha256
		result.Layers = append(result.Layers, ml)
	}
	return printResult(a, f.out.json, built.Reference, result)
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
