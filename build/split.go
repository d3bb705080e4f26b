package build

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"path"
	"strings"

	"github.com/lambda-oci/lambda-oci/layerconv"
)

// Function code split by change rate, as Jib does for Java: code that
// vendors its dependencies becomes two layers at the task root, the
// dependencies first, then the application files. Dependencies change
// rarely and the application often; with the split, an edit to the
// handler makes a new application layer of kilobytes while the dependency
// layer keeps its digest, so a push skips it (the registry has it) and
// Lambda's chunk cache keeps it. The merged file tree is the one-layer
// conversion's (layerconv.Selection).
//
// The split happens only when it is unambiguous: exactly one of the
// layouts below is at the top of the code, it selects at least one file,
// the handler's module is among the application files and none of the
// dependency files looks like it (so a handler edit never lands in the
// dependency layer). Anything else — no layout, two layouts, a dist-info
// without RECORD, the handler only in the dependencies or nowhere — is
// one layer, as with Spec.CodeLayers 1.

// kindCodeDeps is the dependency layer of split code.
const kindCodeDeps = "code-deps"

// maxRecord bounds one dist-info RECORD read to decide the split.
const maxRecord = 16 << 20

// depLayout is one way code vendors its dependencies.
type depLayout struct {
	name string
	// find returns the selection paths of the dependencies (nil when the
	// layout is absent) or why the layout cannot be split.
	find func(ctx context.Context, src string, es []layerconv.InputEntry) (deps []string, problem string, err error)
}

var depLayouts = []depLayout{
	{"node_modules/", topDir("node_modules")},
	{"Python *.dist-info", distInfo},
	{"vendor/", topDir("vendor")},
	{"lib/*.jar", libJars},
}

// topDir is a layout whose dependencies are one top-level directory.
func topDir(name string) func(context.Context, string, []layerconv.InputEntry) ([]string, string, error) {
	return func(_ context.Context, _ string, es []layerconv.InputEntry) ([]string, string, error) {
		for _, e := range es {
			if e.Name == name && e.Dir {
				return []string{name}, "", nil
			}
		}
		return nil, "", nil
	}
}

// libJars is the Java zip layout: jars directly in lib/ (the classes of
// the function at the top).
func libJars(_ context.Context, _ string, es []layerconv.InputEntry) ([]string, string, error) {
	var deps []string
	for _, e := range es {
		if rest, ok := strings.CutPrefix(e.Name, "lib/"); ok && !e.Dir && !strings.Contains(rest, "/") && strings.HasSuffix(rest, ".jar") {
			deps = append(deps, e.Name)
		}
	}
	return deps, "", nil
}

// distInfo is what pip install --target leaves: packages beside their
// *.dist-info directories, each RECORD listing the package's files. The
// dependencies are the dist-info directories and the files their RECORDs
// list that the code holds; a RECORD path leaving the code (../../bin/x,
// scripts pip put elsewhere) is left with the application files.
func distInfo(ctx context.Context, src string, es []layerconv.InputEntry) ([]string, string, error) {
	var dirs, records []string
	for _, e := range es {
		if e.Dir && !strings.Contains(e.Name, "/") && strings.HasSuffix(e.Name, ".dist-info") {
			dirs = append(dirs, e.Name)
			records = append(records, e.Name+"/RECORD")
		}
	}
	if len(dirs) == 0 {
		return nil, "", nil
	}
	contents, err := layerconv.ReadInputFiles(ctx, src, records, maxRecord)
	if errors.Is(err, layerconv.ErrTooLarge) {
		return nil, fmt.Sprintf("a RECORD over %d bytes", maxRecord), nil
	}
	if err != nil {
		return nil, "", err
	}
	files := map[string]bool{}
	for _, e := range es {
		if !e.Dir {
			files[e.Name] = true
		}
	}
	deps := append([]string{}, dirs...)
	for i, rec := range records {
		data, ok := contents[rec]
		if !ok {
			return nil, dirs[i] + " has no RECORD", nil
		}
		r := csv.NewReader(strings.NewReader(string(data)))
		r.FieldsPerRecord = -1
		for {
			row, err := r.Read()
			if err == io.EOF {
				break
			}
			if err != nil {
				return nil, fmt.Sprintf("%s: %v", rec, err), nil
			}
			if len(row) == 0 {
				continue
			}
			p := path.Clean(row[0])
			if files[p] && !strings.HasPrefix(p, dirs[i]+"/") {
				deps = append(deps, p)
			}
		}
	}
	return deps, "", nil
}

// handlerStems are the paths the handler's module can have, without the
// extension: "app.handler" -> app; "pkg.mod.fn" -> pkg.mod and pkg/mod
// (Python); "src/index.handler" -> src/index (Node.js);
// "com.example.Handler::handleRequest" -> com/example/Handler (Java);
// "Asm::Ns.Class::Method" -> Asm (.NET).
func handlerStems(handler string) []string {
	mod := handler
	if i := strings.Index(mod, "::"); i >= 0 {
		mod = mod[:i]
	} else if i := strings.LastIndexByte(mod, '.'); i > 0 {
		mod = mod[:i]
	}
	stems := []string{mod}
	if s := strings.ReplaceAll(mod, ".", "/"); s != mod {
		stems = append(stems, s)
	}
	return stems
}

// looksLike reports a file that can be the handler's module: the stem with
// any extension, or anything below a directory of that name.
func looksLike(name string, stems []string) bool {
	for _, s := range stems {
		if name == s || strings.HasPrefix(name, s+".") || strings.HasPrefix(name, s+"/") {
			return true
		}
	}
	return false
}

// codePlan is how the code becomes layers: Deps nil for one layer.
type codePlan struct {
	layout string
	deps   *layerconv.Selection
	files  int // dependency files
}

// planCode decides whether the code is split. why says why not when a
// layout was there; an input List refuses is one layer (the conversion
// then reports what is wrong, in its words).
func planCode(ctx context.Context, src, prefix, handler string, maxSize int64) (plan codePlan, why string, err error) {
	es, err := layerconv.List(ctx, src, layerconv.Options{Prefix: prefix, MaxSize: maxSize})
	if err != nil {
		if ctx.Err() != nil {
			return plan, "", ctx.Err()
		}
		return plan, "", nil
	}
	var found []string
	for _, l := range depLayouts {
		deps, problem, err := l.find(ctx, src, es)
		if err != nil {
			return plan, "", err
		}
		if problem != "" {
			return codePlan{}, fmt.Sprintf("%s: %s", l.name, problem), nil
		}
		if len(deps) > 0 {
			found = append(found, l.name)
			plan = codePlan{layout: l.name, deps: &layerconv.Selection{Paths: deps}}
		}
	}
	switch len(found) {
	case 0:
		return codePlan{}, "", nil
	case 1:
	default:
		return codePlan{}, "dependencies in more than one layout (" + strings.Join(found, ", ") + ")", nil
	}
	stems := handlerStems(handler)
	inApp := false
	for _, e := range es {
		if e.Dir {
			continue
		}
		switch {
		case !plan.deps.Selects(e.Name):
			inApp = inApp || looksLike(e.Name, stems)
		case looksLike(e.Name, stems):
			return codePlan{}, fmt.Sprintf("%s: %s could be the handler's module", plan.layout, e.Name), nil
		default:
			plan.files++
		}
	}
	if plan.files == 0 {
		return codePlan{}, plan.layout + ": no dependency file", nil
	}
	if !inApp {
		return codePlan{}, fmt.Sprintf("%s: the handler's module (%s) is not among the application files", plan.layout, strings.Join(stems, " or ")), nil
	}
	return plan, "", nil
}

// checkCodeLayers refuses a Spec.CodeLayers other than 0, 1 or 2.
func checkCodeLayers(n int) error {
	if n < 0 || n > 2 {
		return fmt.Errorf("build: code layers %d: want 1 (one layer) or 2 (dependencies apart when unambiguous)", n)
	}
	return nil
}

// convertInput converts one input: a Lambda layer, or the code as one
// layer or, split (see above), its dependency layer then its application
// layer.
func (b *builder) convertInput(ctx context.Context, in input, prefix string) ([]*added, error) {
	if in.kind != kindCode || b.spec.CodeLayers == 1 {
		if as, err := b.reuse(ctx, in, prefix, []string{in.kind}); as != nil || err != nil {
			return as, err
		}
		in, err := b.fetched(ctx, in)
		if err != nil {
			return nil, err
		}
		a, err := b.convert(ctx, in, prefix, nil)
		if err != nil {
			return nil, err
		}
		return []*added{a}, nil
	}
	plan, why, err := planCode(ctx, in.path, prefix, b.spec.Handler, b.maxSize)
	if err != nil {
		return nil, fmt.Errorf("build: code %q: %w", in.Path, err)
	}
	if why != "" {
		b.info("code %s: one layer (%s)", in.name(), why)
	}
	kinds := []string{kindCode}
	if plan.deps != nil {
		kinds = []string{kindCodeDeps, kindCode}
	}
	if as, err := b.reuse(ctx, in, prefix, kinds); as != nil || err != nil {
		return as, err
	}
	if plan.deps == nil {
		a, err := b.convert(ctx, in, prefix, nil)
		if err != nil {
			return nil, err
		}
		return []*added{a}, nil
	}
	deps, err := b.convert(ctx, in, prefix, plan.deps)
	if err != nil {
		return nil, err
	}
	deps.info.Kind = kindCodeDeps
	app, err := b.convert(ctx, in, prefix, &layerconv.Selection{Paths: plan.deps.Paths, Exclude: true})
	if err != nil {
		_ = closeAdds([]*added{deps})
		return nil, err
	}
	b.info("code %s: %d dependency files (%s) in their own layer", in.name(), plan.files, plan.layout)
	return []*added{deps, app}, nil
}
