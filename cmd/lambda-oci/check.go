package main

import (
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/registry"
	"github.com/lambda-oci/lambda-oci/source"
)

// checkSchemaVersion is the version of check's and fix's JSON (see
// schemaVersion; the two may part if one command's fields change).
const checkSchemaVersion = schemaVersion

// subjectFlags say what an existing image is checked against, and how it
// is read; check and fix share them.
type subjectFlags struct {
	arch         string
	runtime      string
	handler      string
	registryAuth string
	region       string
	cache        cacheFlags
}

func (f *subjectFlags) bind(fs *pflag.FlagSet, withRegistry bool) {
	fs.StringVar(&f.arch, "arch", "", "the function's architecture, x86_64 or arm64 (amd64 and aarch64 are accepted); picks the platform of an index (default: the image's own, or the index's only platform)")
	fs.StringVar(&f.runtime, "runtime", "", "Lambda runtime `ID` whose handler convention is checked (default: told by the image's files)")
	fs.StringVar(&f.handler, "handler", "", "the function's `HANDLER` (default: the image's CMD)")
	if withRegistry {
		fs.StringVar(&f.registryAuth, "registry-auth", "", `"ecr" forces ECR authentication for a host that does not look like ECR; default: by host`)
		fs.StringVar(&f.region, "region", "", "AWS region for ECR when the registry host does not name one (default: AWS_REGION)")
	}
	f.cache.bind(fs)
}

// config turns the flags into what the rules check against.
func (f subjectFlags) config() (checks.Config, error) {
	var cfg checks.Config
	if f.arch != "" {
		arch, err := lambda.ParseArch(f.arch)
		if err != nil {
			return cfg, fmt.Errorf("--arch: %w", err)
		}
		cfg.Arch = arch
	}
	if f.runtime != "" {
		r, err := lambda.LookupRuntime(f.runtime)
		if err != nil && !errors.Is(err, lambda.ErrDeprecatedRuntime) {
			return cfg, fmt.Errorf("--runtime: %w", err)
		}
		cfg.Family, cfg.Version = r.Family, r.Version
	}
	cfg.Handler = f.handler
	return cfg, nil
}

func (f subjectFlags) loadOptions(a *app) (checks.LoadOptions, error) {
	dir, err := f.cache.dir(a)
	if err != nil {
		return checks.LoadOptions{}, err
	}
	var lo checks.LoadOptions
	if dir != "" {
		lo.Reader = checks.Reader{CacheDir: build.Cache{Root: dir}.Listings()}
	}
	return lo, nil
}

func (f subjectFlags) registryOptions(a *app) registry.Options {
	p := pushFlags{registryAuth: f.registryAuth, region: f.region, retries: registry.DefaultRetries, quiet: true}
	return p.options(a)
}

func newCheckCmd(a *app) *cobra.Command {
	var f subjectFlags
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "check IMAGE [--arch x86_64|arm64] [--runtime ID] [--handler H] [--json]",
		Short: "Say whether Lambda would accept and run an image, and why not",
		Long: `Check any image against Lambda's rules before deploying it. IMAGE is a
registry reference (same authentication as build, ECR included),
oci:PATH[:TAG] (an OCI image layout) or docker-archive:FILE[:REF]
(docker save / podman save output).

An index (several platforms, or buildx attestations) is itself a finding;
the platform for --arch, or the index's only platform, is checked further.
Every layer is read once, streaming, several at a time.

stdout: the report, one line per finding, grouped by layer (or one JSON
object with --json). Exit status: 0 ready, 3 not Lambda-ready, 1 could not
check, 2 usage error, 4 authentication refused.`,
		Example: `  lambda-oci check 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:latest --arch arm64 --runtime python3.12
  lambda-oci check oci:./out:fn --json
  lambda-oci check docker-archive:image.tar`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			cfg, err := f.config()
			if err != nil {
				return usage(err)
			}
			lo, err := f.loadOptions(a)
			if err != nil {
				return err
			}
			base, err := source.Open(cmd.Context(), args[0], f.registryOptions(a))
			if err != nil {
				return err
			}
			rep, err := checks.Check(cmd.Context(), base.Index, base.Image, cfg, lo)
			if err != nil {
				return fmt.Errorf("checking %s: %w", args[0], err)
			}
			out := describeCheck(args[0], rep, f)
			if asJSON {
				if err := printResult(a, true, "", out); err != nil {
					return err
				}
			} else {
				renderReport(a.stdout, out)
			}
			if !out.Ready {
				return &notReadyError{errors: countSeverity(rep.Findings, checks.Refuse)}
			}
			return nil
		},
	}
	f.bind(cmd.Flags(), true)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print one JSON object (schemaVersion, ready, reference, digest, platform, findings, inputs)")
	return cmd
}

// checkOutput is check's JSON result.
type checkOutput struct {
	SchemaVersion int    `json:"schemaVersion"`
	Ready         bool   `json:"ready"`
	Reference     string `json:"reference"`
	// Digest is what the reference names (an index or a manifest);
	// Manifest the platform manifest checked.
	Digest   string           `json:"digest"`
	Manifest string           `json:"manifest,omitempty"`
	Platform string           `json:"platform,omitempty"`
	Index    *checks.Index    `json:"index,omitempty"`
	Findings []checks.Finding `json:"findings"`
	Inputs   checkInputs      `json:"inputs"`
	// Provenance is what the image's lambda-oci provenance label records
	// (absent for images lambda-oci did not build).
	Provenance *build.Provenance `json:"provenance,omitempty"`
}

// checkInputs are what the image was checked against.
type checkInputs struct {
	Arch    string `json:"arch,omitempty"`
	Runtime string `json:"runtime,omitempty"`
	Handler string `json:"handler,omitempty"`
}

func describeCheck(ref string, rep *checks.Report, f subjectFlags) *checkOutput {
	o := &checkOutput{SchemaVersion: checkSchemaVersion, Ready: rep.Ready(), Reference: ref, Digest: rep.Digest.String(),
		Index: rep.Index, Findings: append([]checks.Finding{}, rep.Findings...),
		Inputs: checkInputs{Arch: f.arch, Runtime: f.runtime, Handler: f.handler}}
	if rep.Image != nil {
		o.Manifest = rep.Manifest.String()
		o.Platform = lambda.PlatformString(rep.Platform)
		// A label that does not parse is not a reason to refuse the
		// image (Lambda ignores labels): it is just not shown.
		o.Provenance, _ = build.ReadProvenance(rep.Image.Config)
	}
	return o
}

// renderProvenance prints what built the image: the base, each added
// layer's source and identity, the handler and the builder.
func renderProvenance(w io.Writer, p *build.Provenance) {
	fmt.Fprintf(w, "  built by %s, handler %s", p.Builder, p.Handler)
	if p.Runtime != nil {
		fmt.Fprintf(w, ", runtime %s %s", p.Runtime.Family, p.Runtime.Version)
	}
	fmt.Fprintln(w)
	name := p.Base.Name
	if name == "" {
		name = "(unnamed)"
	}
	fmt.Fprintf(w, "  base %s %s (%d layers)\n", name, p.Base.Digest, len(p.Base.Layers))
	for i, l := range p.Layers {
		id := ""
		switch {
		case l.CodeSha256 != "":
			id = "CodeSha256 " + l.CodeSha256
		case l.SHA256 != "":
			id = "sha256 " + l.SHA256
		case l.Tree != "":
			id = "tree " + l.Tree
		}
		fmt.Fprintf(w, "  layer %d %s %s", len(p.Base.Layers)+i+1, l.Kind, l.Source)
		if id != "" {
			fmt.Fprintf(w, " (%s)", id)
		}
		fmt.Fprintf(w, " -> %s\n", l.Digest)
	}
}

func countSeverity(fs []checks.Finding, s checks.Severity) int {
	n := 0
	for _, f := range fs {
		if f.Severity == s {
			n++
		}
	}
	return n
}

// renderReport prints the findings grouped by layer: the image as a whole
// first, then each layer in order.
func renderReport(w io.Writer, o *checkOutput) {
	fmt.Fprintf(w, "%s\n  digest %s\n", o.Reference, o.Digest)
	if o.Platform != "" && o.Manifest != o.Digest {
		fmt.Fprintf(w, "  checked %s manifest %s\n", o.Platform, o.Manifest)
	} else if o.Platform != "" {
		fmt.Fprintf(w, "  platform %s\n", o.Platform)
	}
	if o.Provenance != nil {
		renderProvenance(w, o.Provenance)
	}
	groups := map[int][]checks.Finding{}
	var order []int
	for _, f := range o.Findings {
		if _, ok := groups[f.Layer]; !ok {
			order = append(order, f.Layer)
		}
		groups[f.Layer] = append(groups[f.Layer], f)
	}
	sortInts(order)
	for _, l := range order {
		fs := groups[l]
		if l == 0 {
			fmt.Fprintln(w, "image:")
		} else {
			fmt.Fprintf(w, "layer %d %s:\n", l, fs[0].LayerDigest)
		}
		for _, f := range fs {
			msg := f.Message
			if f.LambdaError != "" {
				msg += " (Lambda: " + f.LambdaError + ")"
			}
			fmt.Fprintf(w, "  %-7s [%s] %s\n", f.Severity, f.Rule, strings.ReplaceAll(msg, "\n", "\n    "))
			if f.Hint != "" {
				fmt.Fprintf(w, "          hint: %s\n", f.Hint)
			}
		}
	}
	errs, warns := countSeverity(o.Findings, checks.Refuse), countSeverity(o.Findings, checks.Warn)
	if o.Ready {
		fmt.Fprintf(w, "Lambda-ready (%d warning(s))\n", warns)
		return
	}
	fmt.Fprintf(w, "not Lambda-ready: %d error(s), %d warning(s)\n", errs, warns)
}

func sortInts(xs []int) {
	for i := 1; i < len(xs); i++ {
		for j := i; j > 0 && xs[j] < xs[j-1]; j-- {
			xs[j], xs[j-1] = xs[j-1], xs[j]
		}
	}
}
