package lambda

import (
	"fmt"
	"path"
	"strings"
)

// The .NET lookup follows aws/aws-lambda-dotnet,
// Libraries/src/Amazon.Lambda.RuntimeSupport (commit 8314921, 2026-07):
//
//   - bootstrap.sh (the runtime's bootstrap): a handler without ":" names an
//     executable assembly, <task root>/<handler>[.dll] or a native binary
//     <task root>/<handler> (exit 104 when neither); otherwise the
//     assembly is what precedes the first ":" (or LAMBDA_DOTNET_MAIN_ASSEMBLY),
//     and <assembly>.deps.json and <assembly>.runtimeconfig.json must be in
//     the task root, or exactly one *.deps.json / *.runtimeconfig.json there
//     (exits 105, 106: Runtime.ExitError).
//   - Helpers/HandlerInfo.cs: the handler splits on "::" into exactly
//     assembly, type and method, none empty.
//   - Bootstrap/UserCodeLoader.cs: the assembly is loaded by name from the
//     application base, the task root; FileNotFoundException becomes
//     "Could not find the specified handler assembly" (a
//     LambdaValidationException at init).
//
// The deps/runtimeconfig requirement is reported as a warning: it comes
// from the runtime's published bootstrap script, which we have not
// confirmed the AWS .NET base images run unchanged.

func resolveDotnet(fsys FS, in HandlerInput) (*Resolution, error) {
	h := in.Handler
	if !strings.Contains(h, ":") {
		asm, bin := path.Join(in.TaskRoot, h), path.Join(in.TaskRoot, h)
		if !strings.HasSuffix(asm, ".dll") {
			asm += ".dll"
		}
		switch {
		case isFile(fsys, asm):
			return &Resolution{Found: asm, Loaded: "executable assembly"}, nil
		case isFile(fsys, bin):
			return &Resolution{Found: bin, Loaded: "native executable"}, nil
		}
		e := in.herr(ErrExit, fmt.Sprintf("executable assembly %s or binary %s not found", asm, bin))
		e.Searched, e.Shown, e.Path = []string{asm, bin}, []string{asm, bin}, asm
		return nil, e
	}
	parts := strings.SplitN(h, "::", 3)
	if len(parts) != 3 || strings.TrimSpace(parts[0]) == "" || strings.TrimSpace(parts[1]) == "" || strings.TrimSpace(parts[2]) == "" {
		return nil, in.herr(ErrDotnetValidation, "expected ASSEMBLY::NAMESPACE.CLASS::METHOD (or an executable assembly's name)")
	}
	asmName := strings.TrimSpace(parts[0])
	dll := path.Join(in.TaskRoot, asmName+".dll")
	res := &Resolution{Found: dll, Loaded: "class library"}
	if !isFile(fsys, dll) {
		e := in.herr(ErrDotnetValidation, fmt.Sprintf("Could not find the specified handler assembly %s.dll in the task root", asmName))
		e.Searched, e.Shown, e.Path = []string{dll}, []string{dll}, dll
		e.Nearby = findNearby(fsys, []string{in.TaskRoot, OptDir}, func(p string, f File) string {
			if path.Base(p) == asmName+".dll" {
				return fmt.Sprintf("found %s: the runtime loads the handler's assembly from the task root only", p)
			}
			return ""
		})
		return nil, e
	}
	main := strings.TrimSuffix(in.Env["LAMBDA_DOTNET_MAIN_ASSEMBLY"], ".dll")
	if main == "" {
		main = h[:strings.Index(h, ":")]
	}
	for _, ext := range []string{".deps.json", ".runtimeconfig.json"} {
		if isFile(fsys, path.Join(in.TaskRoot, main+ext)) {
			continue
		}
		n := 0
		for _, name := range readDir(fsys, in.TaskRoot) {
			if strings.HasSuffix(name, ext) {
				n++
			}
		}
		if n != 1 {
			res.Warnings = append(res.Warnings, fmt.Sprintf("%s has no %s%s (and %d other *%s): the .NET runtime's bootstrap exits before loading the handler", in.TaskRoot, main, ext, n, ext))
		}
	}
	return res, nil
}

// The Ruby lookup follows aws/aws-lambda-ruby-runtime-interface-client
// (commit 70a2045, 2025-09): lib/aws_lambda_ric/lambda_handler.rb splits
// the handler on "." into exactly FILE.METHOD or FILE.CLASS.METHOD
// (anything else is an ArgumentError at init); lib/aws_lambda_ric.rb puts
// the working directory, the task root, first on $LOAD_PATH and requires
// FILE, so a LoadError is the init error. The rest of $LOAD_PATH the
// runtime sees from RUBYLIB: /opt/ruby/lib (AWS "Layer paths for each
// Lambda runtime"). require tries FILE.rb, then FILE.so.

func resolveRuby(fsys FS, in HandlerInput) (*Resolution, error) {
	parts := strings.Split(in.Handler, ".")
	if len(parts) != 2 && len(parts) != 3 {
		return nil, in.herr(ErrRubyArgument, "expected FILE.METHOD or FILE.CLASS.METHOD (the file name cannot contain \".\")")
	}
	file := parts[0]
	if file == "" {
		return nil, in.herr(ErrRubyArgument, "no file name before the first \".\"")
	}
	dirs := []string{in.TaskRoot, path.Join(OptDir, "ruby/lib")}
	if path.IsAbs(file) {
		dirs = []string{"/"}
	}
	var searched, shown []string
	for _, ext := range []string{".rb", ".so"} {
		for _, d := range dirs {
			p := path.Join(d, file+ext)
			searched = append(searched, p)
			if ext == ".rb" {
				shown = append(shown, p)
			}
			if isFile(fsys, p) {
				return &Resolution{Found: p, Loaded: "required"}, nil
			}
		}
	}
	e := in.herr(ErrRubyLoad, fmt.Sprintf("cannot load such file -- %s", file))
	e.Searched, e.Shown, e.Path = searched, shown, searched[0]
	e.Nearby = findNearby(fsys, []string{in.TaskRoot, OptDir}, func(p string, f File) string {
		if path.Base(p) != path.Base(file)+".rb" {
			return ""
		}
		if rel, ok := strings.CutPrefix(strings.TrimSuffix(p, ".rb"), in.TaskRoot+"/"); ok {
			return fmt.Sprintf("found %s: not on $LOAD_PATH under that name; the handler %q would load it", p, rel+"."+strings.Join(parts[1:], "."))
		}
		return fmt.Sprintf("found %s: not on the runtime's $LOAD_PATH", p)
	})
	return nil, e
}

// Custom runtimes: the AWS base images' entrypoint runs RuntimeBootstrap
// (lambda.md), which must be an executable file Lambda's non-root user can
// run. A zip function's bootstrap in the task root or /opt is not run by
// an image unless RuntimeBootstrap leads to it (build links it).
func resolveProvided(fsys FS, in HandlerInput) (*Resolution, error) {
	real, f, ok := stat(fsys, RuntimeBootstrap)
	if ok && f.Type == Regular {
		if f.Mode&0o001 == 0 {
			e := in.herr(ErrInvalidEntrypoint, fmt.Sprintf("%s (%s) is not executable by others (mode %04o): Lambda's non-root user cannot run it", RuntimeBootstrap, real, f.Mode))
			e.Path = RuntimeBootstrap
			return nil, e
		}
		return &Resolution{Found: real, Loaded: "custom runtime bootstrap"}, nil
	}
	searched := append(ZipBootstraps(in.TaskRoot), RuntimeBootstrap)
	e := in.herr(ErrInvalidEntrypoint, "custom runtime without a bootstrap: searched "+joinAnd(searched))
	if lf, ok := fsys.Lstat(RuntimeBootstrap); ok && lf.Type == Symlink {
		e.Reason = fmt.Sprintf("custom runtime bootstrap %s is a link to %s, which does not lead to a file", RuntimeBootstrap, lf.Link)
	}
	e.Path, e.Searched = RuntimeBootstrap, searched
	for _, z := range ZipBootstraps(in.TaskRoot) {
		if isFile(fsys, z) {
			e.Nearby = append(e.Nearby, fmt.Sprintf("found %s: the image's entrypoint runs %s only", z, RuntimeBootstrap))
		}
	}
	return nil, e
}

func joinAnd(ps []string) string {
	if len(ps) < 2 {
		return strings.Join(ps, "")
	}
	return strings.Join(ps[:len(ps)-1], ", ") + " and " + ps[len(ps)-1]
}
