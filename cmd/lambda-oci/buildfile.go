package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/config"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// fileFlags are build's flags for many functions from lambda-oci.yaml.
type fileFlags struct {
	file     string
	only     []string
	failFast bool
	locked   bool
}

func (f *fileFlags) bind(fs *pflag.FlagSet) {
	fs.StringVarP(&f.file, "file", "f", "", "build every function of a lambda-oci.yaml `FILE` in one process (see the README for the format)")
	fs.StringArrayVar(&f.only, "only", nil, "with -f: build only the function `NAME` (repeatable)")
	fs.BoolVar(&f.locked, "locked", false, "with -f: refuse to publish a function when anything it is built from differs from "+config.LockName+" (which is then left as it is)")
	fs.BoolVar(&f.failFast, "fail-fast", false, "with -f: stop at the first function that fails (default: build the others and report every failure)")
}

// singleOnly are build's flags that describe one function: with -f the
// file describes them.
var singleOnly = []string{"runtime", "base", "arch", "layer", "code", "handler", "env", "max-size", "allow-arch-mismatch", "code-layers", "tag", "tarball", "cache-from"}

// fileFunctionJSON is one function in the --json result of build -f.
type fileFunctionJSON struct {
	// Reference is REPO@sha256:… of the first tag (or the layout name).
	Reference string `json:"reference,omitempty"`
	Digest    string `json:"digest,omitempty"`
	// ImageURI is what Lambda's ImageUri takes: the pushed REPO@sha256:….
	ImageURI string   `json:"imageUri,omitempty"`
	Pushed   []string `json:"pushed,omitempty"`
	Base     string   `json:"base,omitempty"`
	// BaseDigest is the digest of the base's manifest for the architecture.
	BaseDigest string   `json:"baseDigest,omitempty"`
	Warnings   []string `json:"warnings,omitempty"`
	Error      string   `json:"error,omitempty"`
}

// runBuildFile is build -f: every (or --only) function of the file, one
// process, shared work; stdout gets NAME=REFERENCE lines or the JSON map.
func runBuildFile(cmd *cobra.Command, a *app, ff fileFlags, cache cacheFlags, out outputFlags, push pushFlags) error {
	for _, n := range singleOnly {
		if cmd.Flags().Changed(n) {
			return fmt.Errorf("--%s cannot be used with -f: the file describes each function", n)
		}
	}
	if err := push.validate(); err != nil {
		return err
	}
	// Functions log from several goroutines at once.
	a = &app{stdout: a.stdout, stderr: &lockedWriter{w: a.stderr}, getenv: a.getenv}
	out.ociLayout = cleanPath(out.ociLayout)
	cf, err := config.Load(ff.file, config.Options{Getenv: a.getenv})
	if err != nil {
		return err
	}
	fns, err := selectFunctions(cf, ff.only)
	if err != nil {
		return err
	}
	lockPath := config.LockPath(ff.file)
	lock, err := config.ReadLock(lockPath)
	if err != nil {
		return err
	}
	byName := map[string]config.Function{}
	for _, fn := range fns {
		byName[fn.Name] = fn
	}
	var verify func(string, *build.Result) error
	if ff.locked {
		verify = func(name string, res *build.Result) error {
			want, ok := lock.Functions[name]
			if !ok {
				return fmt.Errorf("not in %s: build without --locked to add it", lockPath)
			}
			got, err := cf.LockFunction(byName[name], res)
			if err != nil {
				return err
			}
			if d := want.Diff(got); len(d) > 0 {
				return fmt.Errorf("differs from %s: %s", lockPath, strings.Join(d, "; "))
			}
			return nil
		}
	}
	cacheDir, err := cache.dir(a)
	if err != nil {
		return err
	}
	ropts := push.options(a)
	// Parallel pushes would draw over each other's progress bars: one log
	// line per function instead.
	ropts.Quiet = true
	targets := make([]build.Target, len(fns))
	for i, fn := range fns {
		// Layer versions update --layers moved: the lock's, not the file's.
		pinned, notes := lock.Pin(fn)
		for _, n := range notes {
			logf(a, "%s: %s", fn.Name, n)
		}
		targets[i] = build.Target{Name: fn.Name, Spec: pinned.Spec, Publisher: filePublisher(fn, out.ociLayout, ropts, a), CacheFrom: fn.CacheFrom}
	}
	// --jobs bounds the functions built at once; each push then uploads
	// with the registry's default concurrency.
	ropts.Jobs = 0
	shared := build.NewShared()
	defer shared.Close()
	results, ferr := build.PublishFleet(cmd.Context(), targets, build.FleetOptions{
		Options: build.Options{CacheDir: cacheDir, Getenv: a.getenv, Events: events(a, push.quiet), Registry: ropts, Shared: shared, Version: imageVersion(),
			NoCacheFrom: cache.noCache},
		Jobs:     push.jobs,
		FailFast: ff.failFast,
		Verify:   verify,
	})
	if results == nil {
		return ferr
	}
	st := shared.Stats()
	logf(a, "built %d of %d functions (%d base fetches, %d base layers measured, %d layer versions fetched, %d inputs converted)",
		len(results)-failures(ferr), len(results), st.BaseFetches, st.BaseLayerMeasures, st.LayerVersionFetches, st.Conversions)

	if !ff.locked {
		if err := lock.Record(cf, byName, results, lockPath); err != nil {
			return errors.Join(ferr, err)
		}
	}

	report := map[string]fileFunctionJSON{}
	var lines []string
	for i, r := range results {
		o := describeFileFunction(r, fns[i], out.ociLayout)
		report[r.Name] = o
		if r.Err == nil {
			lines = append(lines, r.Name+"="+o.Reference)
		}
	}
	if push.imageRefs != "" {
		if err := publish.WriteImageRefs(push.imageRefs, lines); err != nil {
			return errors.Join(ferr, err)
		}
	}
	if out.json {
		if err := printResult(a, true, "", report); err != nil {
			return err
		}
	} else {
		for _, l := range lines {
			if _, err := fmt.Fprintln(a.stdout, l); err != nil {
				return err
			}
		}
	}
	return ferr
}

func failures(err error) int {
	var fe *build.FleetError
	if errors.As(err, &fe) {
		return len(fe.Failed)
	}
	return 0
}

// selectFunctions is --only: the named functions in file order.
func selectFunctions(cf *config.File, only []string) ([]config.Function, error) {
	fns, err := cf.Select(only)
	if err != nil {
		return nil, fmt.Errorf("--only %w", err)
	}
	return fns, nil
}

// filePublisher is where one function of the file goes: the shared
// layout (under its first tag, else localhost/NAME:latest), then its tags.
func filePublisher(fn config.Function, layoutDir string, ropts registry.Options, a *app) publish.Publisher {
	var ps []publish.Publisher
	if layoutDir != "" {
		n := layoutName(fn)
		ps = append(ps, logged{publish.Layout(layoutDir, n), a, fmt.Sprintf("%s: wrote OCI layout %s (%s)", fn.Name, layoutDir, n)})
	}
	if len(fn.Tags) > 0 {
		ps = append(ps, logged{publish.Registry(fn.Tags, ropts), a, fmt.Sprintf("%s: pushed %s", fn.Name, strings.Join(fn.Tags, ", "))})
	}
	if len(ps) == 0 {
		return noOutput{fn}
	}
	return publish.Multi(ps...)
}

func layoutName(fn config.Function) string {
	if len(fn.Tags) > 0 {
		return fn.Tags[0]
	}
	return "localhost/" + fn.Name + ":latest"
}

// noOutput is a function with nowhere to go: it fails alone, at Check.
type noOutput struct{ fn config.Function }

func (n noOutput) String() string { return "no output" }

func (n noOutput) Check([]string) error {
	return fmt.Errorf("function %s: nowhere to publish: %s, or pass --oci-layout DIR", n.fn.Name, n.fn.Untagged)
}

func (n noOutput) Publish(context.Context, v1.Image) (*publish.Publication, error) {
	return nil, n.Check(nil)
}

func describeFileFunction(r build.TargetResult, fn config.Function, layoutDir string) fileFunctionJSON {
	if r.Err != nil {
		return fileFunctionJSON{Error: r.Err.Error()}
	}
	res := r.Result
	o := fileFunctionJSON{Digest: res.Digest.String(), Base: res.Base, BaseDigest: res.BaseDigest.String(), Warnings: res.Warnings}
	if r.Publication != nil && len(r.Publication.References) > 0 {
		o.Pushed = r.Publication.References
		o.ImageURI = o.Pushed[0]
		o.Reference = o.Pushed[0]
		return o
	}
	if ref, err := name.ParseReference(layoutName(fn)); err == nil {
		o.Reference = ref.Context().Name() + "@" + o.Digest
	}
	return o
}

// lockedWriter serialises writes: each log line arrives whole.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
