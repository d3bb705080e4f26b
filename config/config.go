// Package config reads lambda-oci.yaml, the file that describes many Lambda
// functions at once, into build.Specs: defaults every function inherits,
// then per function its base, layers, code, handler, environment and tags.
// The file is validated against its JSON Schema (Schema, committed beside
// this package for editors) and every problem names its line.
package config

import (
	"bytes"
	_ "embed"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/dustin/go-humanize"
	"github.com/google/go-containerregistry/pkg/name"
	"go.yaml.in/yaml/v3"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/registry"
)

// FileName is the file's conventional name.
const FileName = "lambda-oci.yaml"

// RegistryEnv names the registry used when the file's defaults name none
// (like ko's KO_DOCKER_REPO).
const RegistryEnv = "LAMBDA_OCI_REGISTRY"

// DefaultTag is pushed when neither the function nor the defaults list tags.
const DefaultTag = "latest"

//go:embed lambda-oci.schema.json
var schemaJSON []byte

// Schema returns the JSON Schema of the file.
func Schema() []byte { return bytes.Clone(schemaJSON) }

// Options configure Load.
type Options struct {
	// Getenv reads the variables tags refer to and RegistryEnv; nil means
	// os.Getenv.
	Getenv func(string) string
}

// File is a loaded lambda-oci.yaml.
type File struct {
	// Path is the file as given; Dir the directory relative paths in it
	// are resolved against.
	Path, Dir string
	// Registry is defaults.registry, else $LAMBDA_OCI_REGISTRY ("" if neither).
	Registry string
	// Functions are in file order.
	Functions []Function
}

// Function is one function, defaults applied and paths resolved.
type Function struct {
	Name string
	// Line is where the function's entry starts in the file.
	Line int
	Spec build.Spec
	// Tags are full references to push to; empty when there is no
	// registry to put the function's own tags under.
	Tags []string
	// Untagged explains an empty Tags.
	Untagged string
	// CacheFrom are the images the build reads as its registry cache
	// (build.Options.CacheFrom); nil: its Tags.
	CacheFrom []string
}

// Error is a file that cannot be used: every problem found, with its line.
type Error struct {
	File     string
	Problems []Problem
}

// Problem is one thing wrong with the file.
type Problem struct {
	Line int
	// Path is where in the document (functions.orders.handler); "" for the
	// whole file.
	Path string
	Msg  string
}

func (p Problem) String() string {
	s := fmt.Sprintf("line %d: ", p.Line)
	if p.Path != "" {
		s += p.Path + ": "
	}
	return s + p.Msg
}

func (e *Error) Error() string {
	if len(e.Problems) == 1 {
		return fmt.Sprintf("config %s:%d: %s", e.File, e.Problems[0].Line, strings.TrimPrefix(e.Problems[0].String(), fmt.Sprintf("line %d: ", e.Problems[0].Line)))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "config %s: %d problems:", e.File, len(e.Problems))
	for _, p := range e.Problems {
		fmt.Fprintf(&b, "\n  %s:%d: %s", e.File, p.Line, strings.TrimPrefix(p.String(), fmt.Sprintf("line %d: ", p.Line)))
	}
	return b.String()
}

// Load reads, validates and resolves the file at path.
func Load(path string, opts Options) (*File, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return Parse(path, filepath.Dir(abs), data, opts)
}

// raw mirrors the file; the schema has already refused anything else.
type raw struct {
	Defaults  rawDefaults `yaml:"defaults"`
	Functions yaml.Node   `yaml:"functions"`
}

type rawSettings struct {
	Runtime           string            `yaml:"runtime"`
	Base              string            `yaml:"base"`
	Arch              string            `yaml:"arch"`
	Env               map[string]string `yaml:"env"`
	MaxSize           yaml.Node         `yaml:"maxSize"`
	AllowArchMismatch *bool             `yaml:"allowArchMismatch"`
	CodeLayers        *int              `yaml:"codeLayers"`
	Tags              []string          `yaml:"tags"`
	CacheFrom         []string          `yaml:"cacheFrom"`
}

type rawDefaults struct {
	rawSettings `yaml:",inline"`
	Registry    string `yaml:"registry"`
}

type rawFunction struct {
	rawSettings `yaml:",inline"`
	Layers      []string `yaml:"layers"`
	Code        string   `yaml:"code"`
	Handler     string   `yaml:"handler"`
}

// Parse validates and resolves a file's content; name names it in errors,
// dir is what relative paths are relative to.
func Parse(name, dir string, data []byte, opts Options) (*File, error) {
	getenv := opts.Getenv
	if getenv == nil {
		getenv = os.Getenv
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return nil, yamlError(name, err)
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		return nil, &Error{File: name, Problems: []Problem{{Line: 1, Msg: "empty file: want a functions map"}}}
	}
	root := doc.Content[0]
	if probs := validate(root); len(probs) > 0 {
		return nil, &Error{File: name, Problems: probs}
	}
	var r raw
	if err := root.Decode(&r); err != nil {
		return nil, yamlError(name, err)
	}
	f := &File{Path: name, Dir: dir, Registry: r.Defaults.Registry}
	if f.Registry == "" {
		f.Registry = getenv(RegistryEnv)
	}
	f.Registry = strings.TrimSuffix(f.Registry, "/")
	var probs []Problem
	for i := 0; i+1 < len(r.Functions.Content); i += 2 {
		key, val := r.Functions.Content[i], r.Functions.Content[i+1]
		var rf rawFunction
		if err := val.Decode(&rf); err != nil {
			probs = append(probs, Problem{Line: val.Line, Path: "functions." + key.Value, Msg: err.Error()})
			continue
		}
		fn, ps := f.resolve(key.Value, key.Line, r.Defaults, rf, getenv)
		probs = append(probs, ps...)
		f.Functions = append(f.Functions, fn)
	}
	if len(probs) > 0 {
		return nil, &Error{File: name, Problems: probs}
	}
	return f, nil
}

func yamlError(name string, err error) error {
	// yaml.v3 says "yaml: line N: ..."; keep its line as ours.
	msg := strings.TrimPrefix(err.Error(), "yaml: ")
	var line int
	if _, scanErr := fmt.Sscanf(msg, "line %d:", &line); scanErr == nil {
		msg = strings.TrimSpace(msg[strings.Index(msg, ":")+1:])
		return &Error{File: name, Problems: []Problem{{Line: line, Msg: msg}}}
	}
	return fmt.Errorf("config %s: %w", name, err)
}

func (f *File) resolve(fname string, line int, d rawDefaults, rf rawFunction, getenv func(string) string) (Function, []Problem) {
	path := "functions." + fname
	fn := Function{Name: fname, Line: line}
	var probs []Problem
	bad := func(msg string, args ...any) {
		probs = append(probs, Problem{Line: line, Path: path, Msg: fmt.Sprintf(msg, args...)})
	}
	pick := func(a, b string) string {
		if a != "" {
			return a
		}
		return b
	}
	s := build.Spec{
		Runtime: pick(rf.Runtime, d.Runtime), Arch: pick(rf.Arch, d.Arch), Handler: rf.Handler,
		Code: build.Source{Path: f.path(rf.Code)},
	}
	// A function's own base or runtime replaces both defaults: a function
	// naming runtime nodejs22.x must not inherit a Python base.
	if rf.Base != "" || rf.Runtime != "" {
		s.Base = rf.Base
	} else {
		s.Base = d.Base
	}
	if s.Base != "" {
		s.Base = f.baseRef(s.Base)
	}
	if s.Base == "" && s.Runtime == "" {
		bad("no base: set runtime or base here or in defaults")
	}
	for _, l := range rf.Layers {
		if lambdaapi.IsLayerARN(l) {
			s.Layers = append(s.Layers, build.Source{Path: l})
			continue
		}
		// Named by base name, as build names them: the same function
		// built from the file or from flags gets the same digest.
		s.Layers = append(s.Layers, build.Source{Path: f.path(l)})
	}
	env := map[string]string{}
	for k, v := range d.Env {
		env[k] = v
	}
	for k, v := range rf.Env {
		env[k] = v
	}
	keys := make([]string, 0, len(env))
	for k := range env {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		s.Env = append(s.Env, k+"="+env[k])
	}
	ms := rf.MaxSize
	if ms.Kind == 0 {
		ms = d.MaxSize
	}
	if ms.Kind != 0 {
		n, err := humanize.ParseBytes(ms.Value)
		if err != nil || n == 0 || n > 1<<62 {
			probs = append(probs, Problem{Line: ms.Line, Path: path + ".maxSize", Msg: fmt.Sprintf("%q: want a positive size such as 10GiB, 500MB or a number of bytes", ms.Value)})
		}
		s.MaxSize = int64(n)
	}
	switch {
	case rf.AllowArchMismatch != nil:
		s.AllowArchMismatch = *rf.AllowArchMismatch
	case d.AllowArchMismatch != nil:
		s.AllowArchMismatch = *d.AllowArchMismatch
	}
	switch {
	case rf.CodeLayers != nil:
		s.CodeLayers = *rf.CodeLayers
	case d.CodeLayers != nil:
		s.CodeLayers = *d.CodeLayers
	}
	fn.Spec = s

	tags := rf.Tags
	if tags == nil {
		tags = d.Tags
	}
	if tags == nil {
		tags = []string{DefaultTag}
	}
	fn.Tags = f.refs(tags, fname, "tag", getenv, bad, func(msg string) { fn.Untagged = msg })
	cacheFrom := rf.CacheFrom
	if cacheFrom == nil {
		cacheFrom = d.CacheFrom
	}
	if cacheFrom != nil {
		fn.CacheFrom = f.refs(cacheFrom, fname, "cacheFrom", getenv, bad, func(msg string) { bad("%s", msg) })
		if fn.CacheFrom == nil {
			fn.CacheFrom = []string{}
		}
	}
	return fn, probs
}

// refs resolves tags as the file writes them (a full REGISTRY/REPO:TAG, or
// a tag of REGISTRY/NAME; {name} and ${VAR} expanded), once each, in
// order. A short tag without a registry goes to noRegistry.
func (f *File) refs(tags []string, fname, what string, getenv func(string) string, bad func(string, ...any), noRegistry func(string)) []string {
	var out []string
	for _, t := range tags {
		ref, err := expandTag(t, fname, getenv)
		if err != nil {
			bad("%s %q: %v", what, t, err)
			continue
		}
		if !strings.Contains(ref, "/") {
			if f.Registry == "" {
				noRegistry(fmt.Sprintf("%s %q needs a registry: set defaults.registry or %s", what, t, RegistryEnv))
				continue
			}
			ref = f.Registry + "/" + fname + ":" + ref
		}
		if _, err := name.NewTag(ref); err != nil {
			bad("%s %q: %v", what, t, err)
			continue
		}
		if !slices.Contains(out, ref) {
			out = append(out, ref)
		}
	}
	return out
}

// path resolves a file path relative to the file's directory.
func (f *File) path(p string) string {
	if p == "" || filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(f.Dir, p)
}

// baseRef resolves the path of an oci:PATH[:TAG] base against the file's
// directory; registry references pass unchanged.
func (f *File) baseRef(ref string) string {
	rest, ok := strings.CutPrefix(ref, registry.LayoutPrefix)
	if !ok {
		return ref
	}
	return registry.LayoutPrefix + f.path(rest)
}

var envRef = regexp.MustCompile(`\$\{([A-Za-z_][A-Za-z0-9_]*)\}`)

// expandTag replaces {name} with the function name and ${VAR} with the
// environment variable, which must be set: an empty tag component would
// make another, valid-looking reference.
func expandTag(t, fname string, getenv func(string) string) (string, error) {
	var missing []string
	out := envRef.ReplaceAllStringFunc(t, func(m string) string {
		v := envRef.FindStringSubmatch(m)[1]
		val := getenv(v)
		if val == "" {
			missing = append(missing, v)
		}
		return val
	})
	if len(missing) > 0 {
		return "", fmt.Errorf("environment variable %s is not set", strings.Join(missing, ", "))
	}
	return strings.ReplaceAll(out, "{name}", fname), nil
}
