package lambda

import (
	"fmt"
	"strings"
)

// Lambda's names for handler failures, as the runtimes report them at the
// first invoke (errorType in the init error).
const (
	ErrImportModule      = "Runtime.ImportModuleError"
	ErrHandlerNotFound   = "Runtime.HandlerNotFound"
	ErrMalformedHandler  = "Runtime.MalformedHandlerName"
	ErrClassNotFound     = "java.lang.ClassNotFoundException"
	ErrInvalidEntrypoint = "Runtime.InvalidEntrypoint"
	ErrExit              = "Runtime.ExitError"
	ErrDotnetValidation  = "LambdaValidationException"
	ErrRubyLoad          = "Init<LoadError>"
	ErrRubyArgument      = "Init<ArgumentError>"
	ErrBuiltInConflict   = "Runtime.BuiltInModuleConflict"
)

// HandlerInput is what a handler lookup depends on besides the files.
type HandlerInput struct {
	Family Family
	// Version is the language version ("3.12", "22"; "" when unknown: every
	// version's layer paths present in the image are searched).
	Version string
	// TaskRoot is the function's task root (LAMBDA_TASK_ROOT), also the
	// runtime's working directory.
	TaskRoot string
	Handler  string
	// Arch is the function's architecture ("" when unknown): it names the
	// Python extension modules the interpreter loads.
	Arch Arch
	// Env is the image's environment: NODE_PATH, PYTHONPATH and
	// LAMBDA_DOTNET_MAIN_ASSEMBLY change where runtimes look.
	Env map[string]string
}

// Resolution is a runtime's handler lookup replayed over an image's files.
type Resolution struct {
	// Found is the file the runtime would load ("" when none).
	Found string
	// Loaded says how it is loaded ("CommonJS", "ES module", "Python
	// source", "class file in the task root", "jar", ...).
	Loaded string
	// Warnings are doubts that do not stop a build: the lookup depended on
	// something not recorded (a jar too large to read, a package "exports"
	// map), or a runtime requirement we have not confirmed on the base.
	Warnings []string
}

// HandlerError says the runtime would not find or not accept the handler:
// the error Lambda gives at the first invoke, at build time.
type HandlerError struct {
	Handler string
	Family  Family
	// Searched lists every path looked at, in the runtime's order; Shown is
	// the same grouped for reading, as the message gives it.
	Searched []string
	Shown    []string
	// Nearby are files the runtime does not load that look like the
	// handler's, each with the reason ("found /opt/nodejs/node_modules/
	// layerfn.mjs: the runtime only loads .js from NODE_PATH").
	Nearby []string
	// Path is the path the runtime needed, where there is one.
	Path string
	// LambdaError is the runtime's own name for the failure.
	LambdaError string
	// Reason is the failure without the handler and family.
	Reason string
}

func (e *HandlerError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "handler %q (%s): ", e.Handler, e.Family)
	b.WriteString(e.Reason)
	if len(e.Shown) > 0 {
		b.WriteString("; searched " + strings.Join(e.Shown, ", "))
	}
	for _, n := range e.Nearby {
		b.WriteString("; " + n)
	}
	return b.String()
}

// ResolveHandler replays the lookup the family's runtime performs for the
// handler over the image's files. A handler the runtime would not find, or
// could not parse, is a *HandlerError. Families whose handler is not a
// file (go, unknown) resolve to nothing, without error.
func ResolveHandler(fsys FS, in HandlerInput) (*Resolution, error) {
	if in.TaskRoot == "" {
		in.TaskRoot = DefaultTaskRoot
	}
	switch in.Family {
	case NodeJS:
		return resolveNode(fsys, in)
	case Python:
		return resolvePython(fsys, in)
	case Java:
		return resolveJava(fsys, in)
	case DotNet:
		return resolveDotnet(fsys, in)
	case Ruby:
		return resolveRuby(fsys, in)
	case Provided:
		return resolveProvided(fsys, in)
	}
	return &Resolution{}, nil
}

// herr starts a HandlerError for in.
func (in HandlerInput) herr(lambdaErr, reason string) *HandlerError {
	return &HandlerError{Handler: in.Handler, Family: in.Family, LambdaError: lambdaErr, Reason: reason}
}

// envList splits a PATH-like variable, dropping empty entries.
func envList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ":") {
		if p != "" {
			out = append(out, p)
		}
	}
	return out
}

// searchDirs expands a search path pattern with one "*" in its last-but-n
// component (an unknown version: /opt/nodejs/node*/node_modules) to the
// directories present, sorted; a path without "*" is returned as is.
func searchDirs(fsys FS, pattern string) []string {
	i := strings.Index(pattern, "*")
	if i < 0 {
		return []string{pattern}
	}
	dirEnd := strings.LastIndex(pattern[:i], "/")
	parent := pattern[:dirEnd]
	if parent == "" {
		parent = "/"
	}
	compEnd := strings.Index(pattern[i:], "/")
	comp, tail := pattern[dirEnd+1:], ""
	if compEnd >= 0 {
		comp, tail = pattern[dirEnd+1:i+compEnd], pattern[i+compEnd:]
	}
	var out []string
	for _, name := range readDir(fsys, parent) {
		if ok, _ := matchName(comp, name); ok {
			out = append(out, strings.TrimSuffix(parent, "/")+"/"+name+tail)
		}
	}
	return out
}

// matchName matches a name against a pattern whose "*" stands for a
// version: digits and dots ("node*" matches node22, not node_modules).
func matchName(pattern, name string) (bool, error) {
	before, after, _ := strings.Cut(pattern, "*")
	if len(name) <= len(before)+len(after) || !strings.HasPrefix(name, before) || !strings.HasSuffix(name, after) {
		return false, nil
	}
	return strings.Trim(name[len(before):len(name)-len(after)], "0123456789.") == "", nil
}
