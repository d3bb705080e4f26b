// Package migrate turns a deployed zip function into the equivalent image:
// it reads the function (GetFunction), makes a build.Spec of it (the
// runtime's base for the function's architecture, its layers in order at
// /opt, its code at the task root, CMD = its handler), builds and publishes
// it, and writes or runs the CreateFunction input for the new image
// function. It prints nothing: what it has to say leaves as build events
// and in the Result.
package migrate

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/publish"
)

// Request is what to migrate and how the image differs from the function.
type Request struct {
	// Function is the zip function's name or ARN; Qualifier a version or
	// alias ("" for $LATEST).
	Function  string
	Qualifier string
	// Base replaces the runtime's AWS base image (a mirror, a pinned
	// digest, an oci: layout).
	Base string
	// IncludeEnv bakes the function's environment variables into the image;
	// otherwise they stay in the function configuration.
	IncludeEnv bool
	// Env adds KEY=VALUE to the image, after IncludeEnv's values.
	Env               []string
	MaxSize           int64
	AllowArchMismatch bool
	// NewName names the image function ("" : NAME-image).
	NewName string
	// ConfigFile, when set, receives the CreateFunction input (for
	// aws lambda create-function --cli-input-json file://FILE).
	ConfigFile string
	// CreateFunction creates NewName and waits until it is Active.
	CreateFunction bool
}

// Result is a migrated function.
type Result struct {
	Function *lambdaapi.Function
	Build    *build.Result
	// Publication is where the image went; ImageURI the pushed reference
	// the function configuration names ("" when nothing was pushed).
	Publication *publish.Publication
	ImageURI    string
	// FunctionConfig is the CreateFunction input for the image function.
	FunctionConfig *lambdaapi.CreateFunctionRequest
	// Created is the function made (CreateFunction only).
	Created *lambdaapi.CreatedFunction
}

// ErrNeedsPushedImage: the function configuration names the image by its
// registry digest, so writing or creating it needs a registry destination.
var ErrNeedsPushedImage = errors.New("the function configuration needs a pushed image (its Code.ImageUri)")

// Run migrates req.Function: reads it, builds and publishes the image, then
// writes and/or creates the image function's configuration.
func Run(ctx context.Context, req Request, pub publish.Publisher, opts build.Options) (*Result, error) {
	if req.Function == "" {
		return nil, errors.New("migrate: no function named")
	}
	lopts := opts.Lambda
	if lopts.CacheDir == "" {
		lopts.CacheDir = build.Cache{Root: opts.CacheDir}.LayerVersions()
	}
	if lopts.Logf == nil && opts.Events != nil {
		lopts.Logf = func(format string, args ...any) {
			opts.Events(build.Event{Kind: build.Info, Message: fmt.Sprintf(format, args...)})
		}
	}
	if lopts.AWSConfig == nil {
		cfg, err := lambdaapi.LoadConfig(ctx, lopts)
		if err != nil {
			return nil, err
		}
		lopts.AWSConfig = &cfg
	}
	opts.Lambda = lopts

	fn, err := lambdaapi.GetFunction(ctx, req.Function, req.Qualifier, lopts)
	if err != nil {
		return nil, err
	}
	defer fn.Cleanup()
	newName := req.NewName
	if newName == "" {
		newName = fn.Name + "-image"
	}
	if req.CreateFunction && newName == fn.Name {
		return nil, fmt.Errorf("migrate: new function %q is the zip function itself: Lambda cannot change a function's package type in place; choose a new name", newName)
	}
	spec, err := Spec(fn, req, opts.Events)
	if err != nil {
		return nil, err
	}
	res := &Result{Function: fn}
	res.Build, res.Publication, err = build.Publish(ctx, spec, pub, opts)
	if err != nil {
		return nil, err
	}
	if len(res.Publication.References) > 0 {
		res.ImageURI = res.Publication.References[0]
	}
	res.FunctionConfig = lambdaapi.CreateFunctionInput(fn, newName, res.ImageURI, req.IncludeEnv)
	if (req.ConfigFile != "" || req.CreateFunction) && res.ImageURI == "" {
		return res, fmt.Errorf("migrate: image %s is written, but %w", res.Build.Digest, ErrNeedsPushedImage)
	}
	if req.ConfigFile != "" {
		if err := res.FunctionConfig.WriteFunctionConfig(req.ConfigFile); err != nil {
			return res, fmt.Errorf("migrate: image %s is written, but: %w", res.ImageURI, err)
		}
	}
	if req.CreateFunction {
		copts := lopts
		copts.Region = fn.Region
		if res.Created, err = lambdaapi.CreateFunction(ctx, res.FunctionConfig, copts); err != nil {
			return res, fmt.Errorf("migrate: image %s is pushed, but: %w", res.ImageURI, err)
		}
	}
	return res, nil
}

// Spec is the build of a deployed zip function: the runtime decides the
// base and the handler convention. A deprecated runtime has no base image
// and its code usually needs rebuilding, so it is refused even with a base
// given; a runtime id this version does not know is fine when the base is
// given.
func Spec(fn *lambdaapi.Function, req Request, events func(build.Event)) (build.Spec, error) {
	say := func(kind build.EventKind, format string, args ...any) {
		if events != nil {
			events(build.Event{Kind: kind, Message: fmt.Sprintf(format, args...)})
		}
	}
	runtimeID := fn.Runtime
	rt, err := lambda.LookupRuntime(fn.Runtime)
	if err != nil {
		if rt.Deprecated() || req.Base == "" {
			return build.Spec{}, fmt.Errorf("migrate: function %q: %w", fn.Name, err)
		}
		say(build.Warning, "function %s: %v; using the base %s as given", fn.Name, err, req.Base)
		runtimeID = ""
	}
	if len(fn.Architectures) != 1 {
		return build.Spec{}, fmt.Errorf("migrate: function %q has architectures %v: want exactly one", fn.Name, fn.Architectures)
	}
	arch, err := lambda.ParseArch(fn.Architectures[0])
	if err != nil {
		return build.Spec{}, fmt.Errorf("migrate: function %q: %w", fn.Name, err)
	}
	base := req.Base
	if base == "" {
		base = rt.BaseRef(arch)
	}
	spec := build.Spec{
		Runtime: runtimeID, Base: base, Arch: string(arch), Handler: fn.Handler,
		MaxSize: req.MaxSize, AllowArchMismatch: req.AllowArchMismatch,
		// The name is part of the image history (and so of the digest):
		// the function's name, never a path that depends on the cache.
		Code: build.Source{Path: fn.CodePath, Name: "function " + fn.Name},
	}
	for _, arn := range fn.Layers {
		spec.Layers = append(spec.Layers, build.Source{Path: arn})
	}
	if req.IncludeEnv {
		ks := make([]string, 0, len(fn.Environment))
		for k := range fn.Environment {
			ks = append(ks, k)
		}
		sort.Strings(ks)
		for _, k := range ks {
			spec.Env = append(spec.Env, k+"="+fn.Environment[k])
		}
	} else if len(fn.Environment) > 0 {
		say(build.Info, "function %s: %d environment variables kept out of the image (they go into the function configuration)", fn.Name, len(fn.Environment))
	}
	spec.Env = append(spec.Env, req.Env...)
	return spec, nil
}
