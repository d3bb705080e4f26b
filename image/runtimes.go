package image

import (
	"errors"
	"fmt"
	"sort"
	"strings"
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
	// Family is the handler convention: python, nodejs, java, dotnet, ruby, provided.
	Family string
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
	rt := func(id, img, os, fam, ver string) Runtime {
		return Runtime{ID: id, Image: ecrLambda + img, OS: os, Family: fam, Version: ver}
	}
	dep := func(id, fam, repl, note string) Runtime {
		return Runtime{ID: id, Family: fam, Replacement: repl, Note: note}
	}
	return []Runtime{
		rt("python3.14", "python:3.14", "AL2023", "python", "3.14"),
		rt("python3.13", "python:3.13", "AL2023", "python", "3.13"),
		rt("python3.12", "python:3.12", "AL2023", "python", "3.12"),
		rt("python3.11", "python:3.11", "AL2", "python", "3.11"),
		rt("python3.10", "python:3.10", "AL2", "python", "3.10"),
		rt("nodejs24.x", "nodejs:24", "AL2023", "nodejs", "24"),
		rt("nodejs22.x", "nodejs:22", "AL2023", "nodejs", "22"),
		rt("nodejs20.x", "nodejs:20", "AL2023", "nodejs", "20"),
		rt("java25", "java:25", "AL2023", "java", "25"),
		rt("java21", "java:21", "AL2023", "java", "21"),
		rt("java17", "java:17", "AL2", "java", "17"),
		rt("java11", "java:11", "AL2", "java", "11"),
		rt("java8.al2", "java:8.al2", "AL2", "java", "8"),
		rt("dotnet10", "dotnet:10", "AL2023", "dotnet", "10"),
		rt("dotnet8", "dotnet:8", "AL2023", "dotnet", "8"),
		rt("ruby3.4", "ruby:3.4", "AL2023", "ruby", "3.4"),
		rt("ruby3.3", "ruby:3.3", "AL2023", "ruby", "3.3"),
		rt("provided.al2023", "provided:al2023", "AL2023", "provided", ""),
		rt("provided.al2", "provided:al2", "AL2", "provided", ""),

		dep("go1.x", "go", "provided.al2023", "build the Go binary for the target architecture and ship it as bootstrap (code or layer); the handler is then ignored by the runtime but still required as CMD"),
		dep("provided", "provided", "provided.al2023", "Amazon Linux 1 is gone; rebuild native code for AL2023"),
		dep("python3.9", "python", "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("python3.8", "python", "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("python3.7", "python", "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("python3.6", "python", "python3.12", "or newer; rebuild native wheels for the new Python version"),
		dep("nodejs18.x", "nodejs", "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("nodejs16.x", "nodejs", "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("nodejs14.x", "nodejs", "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("nodejs12.x", "nodejs", "nodejs22.x", "or newer; rebuild native addons (.node files)"),
		dep("java8", "java", "java21", "or java8.al2 to stay on Java 8"),
		dep("dotnet7", "dotnet", "dotnet8", "retarget the project to net8.0"),
		dep("dotnet6", "dotnet", "dotnet8", "retarget the project to net8.0"),
		dep("dotnetcore3.1", "dotnet", "dotnet8", "retarget the project to net8.0"),
		dep("ruby3.2", "ruby", "ruby3.3", "or newer"),
		dep("ruby2.7", "ruby", "ruby3.3", "or newer"),
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
	sort.Strings(ids)
	return Runtime{}, fmt.Errorf("unknown runtime %q (known: %s; or pass any image with --base)", id, strings.Join(ids, ", "))
}

// BaseRef is the per-architecture tag of the runtime's base image
// ("public.ecr.aws/lambda/python:3.12-arm64"). The per-arch tag is used, not
// the multi-arch one, so a build fetches only the platform it needs; the
// platform is still verified against the image's config (SelectPlatform).
// It returns "" for a deprecated runtime or an unknown arch.
func BaseRef(rt Runtime, arch string) string {
	if rt.Image == "" {
		return ""
	}
	if _, err := PlatformFor(arch); err != nil {
		return ""
	}
	return rt.Image + "-" + arch
}

// familyVersionFromRef guesses the runtime family from an AWS base image
// reference ("public.ecr.aws/lambda/python:3.12-arm64" -> python, 3.12), so
// --base with an AWS image still gets the handler check.
func familyVersionFromRef(ref string) (fam, ver string) {
	i := strings.Index(ref, "lambda/")
	if i < 0 {
		return "", ""
	}
	rest := ref[i+len("lambda/"):]
	repo, tag, _ := strings.Cut(rest, ":")
	tag, _, _ = strings.Cut(tag, "@")
	tag = strings.TrimSuffix(strings.TrimSuffix(tag, "-x86_64"), "-arm64")
	switch repo {
	case "python", "nodejs", "java", "dotnet", "ruby", "provided":
		return repo, tag
	}
	return "", ""
}
