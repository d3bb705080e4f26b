package main

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// pushFlags are the registry flags shared by commands that push (build
// embeds it). They only fill registry.Options; the policy lives there.
type pushFlags struct {
	createRepository bool
	jobs             int
	retries          int
	registryAuth     string
	region           string
	imageRefs        string
	quiet            bool
	verbose          bool

	// progress draws the push's events; set by options.
	progress *progressRenderer
}

func (f *pushFlags) bind(fs *pflag.FlagSet) {
	fs.BoolVar(&f.createRepository, "create-repository", false, "create the ECR repository if it does not exist")
	fs.IntVar(&f.jobs, "jobs", 0, "blobs uploaded in parallel (default: number of CPUs); with -f, functions built and pushed at once (default: CPUs, at least 4)")
	fs.IntVar(&f.retries, "retries", registry.DefaultRetries, "retries after 5xx, 429, connection resets and timeouts (exponential backoff with jitter); 0 disables")
	fs.StringVar(&f.registryAuth, "registry-auth", "", `"ecr" forces ECR authentication (GetAuthorizationToken) for a host that does not look like ECR; default: by host`)
	fs.StringVar(&f.region, "region", "", "AWS region for ECR when the registry host does not name one (default: AWS_REGION)")
	fs.StringVar(&f.imageRefs, "image-refs", "", "write the pushed REPO@sha256:… references to this file, one per line")
	fs.BoolVar(&f.quiet, "quiet", false, "no progress output")
	fs.BoolVar(&f.verbose, "verbose", false, "log registry and AWS steps on stderr (credentials are never printed)")
}

// validate checks flag values before any work starts.
func (f *pushFlags) validate() error {
	switch f.registryAuth {
	case registry.AuthAuto, registry.AuthECR:
	default:
		return fmt.Errorf("--registry-auth %q: want \"ecr\" or nothing", f.registryAuth)
	}
	if f.jobs < 0 {
		return fmt.Errorf("--jobs %d: must be positive", f.jobs)
	}
	if f.retries < 0 {
		return fmt.Errorf("--retries %d: must be 0 or more", f.retries)
	}
	return nil
}

func (f *pushFlags) options(a *app) registry.Options {
	o := registry.Options{
		Jobs:             f.jobs,
		Retries:          f.retries,
		CreateRepository: f.createRepository,
		RegistryAuth:     f.registryAuth,
		Region:           f.region,
		Quiet:            f.quiet,
	}
	f.progress = newProgressRenderer(a.stderr)
	o.Progress = f.progress.event
	if f.retries == 0 {
		o.Retries = -1 // the flag's 0 means none; the library's 0 means default
	}
	if o.Region == "" && a.getenv != nil {
		o.Region = a.getenv("AWS_REGION")
		if o.Region == "" {
			o.Region = a.getenv("AWS_DEFAULT_REGION")
		}
	}
	if f.verbose {
		o.Logf = f.progress.logf
	}
	return o
}

// events renders a build's events like events(a, quiet), through the
// progress display: blobs upload while the build runs, so on a terminal
// its lines print above the bars instead of through them. Call it after
// options.
func (f *pushFlags) events(a *app) func(build.Event) {
	if f.progress == nil {
		return events(a, f.quiet)
	}
	return func(e build.Event) {
		if e.Kind == build.Warning {
			f.progress.logf("warning: %s", e.Message)
			return
		}
		if !f.quiet {
			f.progress.logf("%s", e.Message)
		}
	}
}

// pushed finishes the progress display once a push has returned.
func (f *pushFlags) pushed() {
	if f.progress != nil {
		f.progress.wait()
	}
}

// record adds the --image-refs file for later CI steps to the publisher.
func (f *pushFlags) record(p publish.Publisher) publish.Publisher {
	if f.imageRefs == "" {
		return p
	}
	return publish.RecordRefs(p, f.imageRefs)
}

// forTags tells the progress display how many repositories the push goes
// to: with several, each line names its repository.
func (f *pushFlags) forTags(tags []string) {
	if f.progress == nil {
		return
	}
	repos := map[string]bool{}
	for _, t := range tags {
		if ref, err := name.NewTag(t); err == nil {
			repos[ref.Context().String()] = true
		}
	}
	f.progress.repos = len(repos)
}

// logTo is where outputs log what they wrote: nowhere with --quiet.
func (f *pushFlags) logTo(a *app) *app {
	if f.quiet {
		return nil
	}
	return a
}
