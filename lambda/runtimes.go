package lambda

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/lambda-oci/lambda-oci/internal/suggest"
)

// Runtime is one Lambda runtime identifier and the AWS base image that
// provides it. Deprecated identifiers carry the runtime to move to instead.
type Runtime struct {
	// ID is Lambda's runtime identifier ("python3.12").
	ID string
	// Image is the multi-arch base image reference (empty when deprecated).
	Image string
	// OS is the base's operating system ("AL2023", "AL2").
	OS string
	// Family is the handler convention.
	Family Family
	// Version is the language version the runtime's search paths use
	// ("3.12" gives /opt/python/lib/python3.12/site-packages).
	Version string
	// Replacement is set for deprecated identifiers: the runtime to use instead.
	Replacement string
	// Note says what changes when moving to the replacement.
	Note string
}

// Deprecated reports whether Lambda no longer offers this runtime.
func (r Runtime) Deprecated() bool { return r.Replacement != "" }

const ecrLambda = "public.ecr.aws/lambda/"

// Runtimes is the one table mapping Lambda runtime ids to AWS base images
// (lambda.md). Tags roll to the latest patch; per-arch tags append
// "-x86_64"/"-arm64" (see BaseRef). Tags for the newest runtimes (java25,
// dotnet10) were not confirmed against the registry: any image reference can
// be passed with --base instead. It is built on each call so no caller can
// change another's copy.
func Runtimes() []Runtime {
	rt := func(id, img, os string, fam Family, ver string) Runtime {
		return Runtime{ID: id, Image: ecrLambda + img, OS: os, Family: fam, Version: ver}
	}
	dep := func(id string, fam Family, repl, note string) Runtime {
		return Runtime{ID: id, Family: fam, Replacement: repl, Note: note}
	}
	return []Runtime{
		rt("python3.14", "python:3.14", "AL2023", Python, "3.14"),
		rt("python3.13", "python:3.13", "AL2023", Python, "3.13"),
		rt("python3.12", "python:3.12", "AL2023", Python, "3.12"),
		rt("python3.11", "python:3.11", "AL2", Python, "3.11"),
		rt("python3.10", "python:3.10", "AL2", Python, "3.10"),
		rt("nodejs24.x", "nodejs:24", "AL2023", NodeJS, "24"),
		rt("nodejs22.x", "nodejs:22", "AL2023", NodeJS, "22"),
		rt("nodejs20.x", "nodejs:20", "AL2023", NodeJS, "20"),
		rt("java25", "java:25", "AL2023", Java, "25"),
		rt("java21", "java:21", "AL2023", Java, "21"),
		rt("java17", "java:17", "AL2", Java, "17"),
		rt("java11", "java:11", "AL2", Java, "11"),
		rt("java8.al2", "java:8.al2", "AL2", Java, "8"),
		rt("dotnet10", "dotnet:10", "AL2023", DotNet, "10"),
		rt("dotnet8", "dotnet:8", "AL2023", DotNet, "8"),
		// ruby4.0 (GA 2026-04): tag 4.0 of public.ecr.aws/lambda/ruby is
		// listed in AWS's "AWS base images for Ruby" table (Lambda developer
		// guide, ruby-image page); AL2023 like every runtime added since 2023.
		rt("ruby4.0", "ruby:4.0", "AL2023", Ruby, "4.0"),
		rt("ruby3.4", "ruby:3.4", "AL2023", Ruby, "3.4"),
		rt("ruby3.3", "ruby:3.3", "AL2023", Ruby, "3.3"),
		rt("provided.al2023", "provided:al2023", "AL2023", Provided, ""),
		rt("provided.al2", "provided:al2", "AL2", Provided, ""),

		dep("go1.x", Go, "provided.al2023", "build the Go binary for the target architecture and ship it as bootstrap (code or layer); the handler is then ignored by the runtime but still required as CMD"),
		dep("provided", Provided, "provided.al2023", "Amazon Linux 1 is gone; rebuild native code for AL2023"),
		dep("python3.9", Python, "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("python3.8", Python, "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("python3.7", Python, "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("python3.6", Python, "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("nodejs18.x", NodeJS, "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("nodejs16.x", NodeJS, "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("nodejs14.x", NodeJS, "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("nodejs12.x", NodeJS, "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("java8", Java, "java21", "or java8.al2 to stay on Java 8"),
		dep("dotnet7", DotNet, "dotnet8", "retarget the project to net8.0"),
		dep("dotnet6", DotNet, "dotnet8", "retarget the project to net8.0"),
		dep("dotnetcore3.1", DotNet, "dotnet8", "retarget the project to net8.0"),
		dep("ruby3.2", Ruby, "ruby3.3", "or newer"),
		dep("ruby2.7", Ruby, "ruby3.3", "or newer"),
	}
}

// ErrDeprecatedRuntime marks a runtime id Lambda no longer offers; the
// Runtime returned with it names the replacement.
var ErrDeprecatedRuntime = errors.New("deprecated in Lambda")

// LookupRuntime finds a runtime id. A deprecated id is an error that names
// its replacement, with the Runtime still returned so callers (migrate) can
// offer it.
func LookupRuntime(id string) (Runtime, error) {
	all := Runtimes()
	for _, r := range all {
		if r.ID != id {
			continue
		}
		if r.Deprecated() {
			return r, fmt.Errorf("runtime %q: %w: use %s (%s)", id, ErrDeprecatedRuntime, r.Replacement, r.Note)
		}
		return r, nil
	}
	var ids []string
	for _, r := range all {
		if !r.Deprecated() {
			ids = append(ids, r.ID)
		}
	}
	// Suggest among every id, deprecated ones included: "go1.x" typed as
	// "go1x" should lead to its replacement through the deprecation error.
	every := make([]string, len(all))
	for i, r := range all {
		every[i] = r.ID
	}
	sort.Strings(ids)
	hint := ""
	if near := suggest.Nearest(id, every, 2); len(near) > 0 {
		hint = "did you mean " + strings.Join(near, " or ") + "? "
	}
	return Runtime{}, fmt.Errorf("unknown runtime %q: %s(known: %s; or give any base image by reference)", id, hint, strings.Join(ids, ", "))
}

// BaseRef is the per-architecture tag of the runtime's base image
// ("public.ecr.aws/lambda/python:3.12-arm64"). The per-arch tag is used, not
// the multi-arch one, so a build fetches only the platform it needs; the
// platform is still verified against the image's config. It returns "" for
// a deprecated runtime.
func (r Runtime) BaseRef(arch Arch) string {
	if r.Image == "" {
		return ""
	}
	return r.Image + "-" + string(arch)
}

// FamilyFromBaseRef guesses the runtime family from an AWS base image
// reference ("public.ecr.aws/lambda/python:3.12-arm64" -> python, 3.12), so
// a base given by reference still gets the handler check. The version is
// only returned where it names search paths (python, nodejs).
func FamilyFromBaseRef(ref string) (fam Family, ver string) {
	i := strings.Index(ref, "lambda/")
	if i < 0 {
		return "", ""
	}
	rest := ref[i+len("lambda/"):]
	repo, tag, _ := strings.Cut(rest, ":")
	tag, _, _ = strings.Cut(tag, "@")
	for _, a := range archs {
		tag = strings.TrimSuffix(tag, "-"+string(a))
	}
	switch f := Family(repo); f {
	case Python, NodeJS:
		return f, tag
	case Java, DotNet, Ruby, Provided:
		return f, ""
	}
	return "", ""
}
