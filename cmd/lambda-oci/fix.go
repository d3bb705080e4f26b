package main

import (
	"fmt"
	"os"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/fix"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/registry"
	"github.com/lambda-oci/lambda-oci/source"
)

func newFixCmd(a *app) *cobra.Command {
	var f subjectFlags
	var out outputFlags
	var push pushFlags
	cmd := &cobra.Command{
		Use:   "fix IMAGE [--arch x86_64|arm64] (--tag REF | --oci-layout DIR | --tarball FILE)... [--json]",
		Short: "Write a Lambda-ready copy of an image, changing only what Lambda refuses",
		Long: `Repair an image Lambda would refuse, keeping everything else: an index becomes
its platform manifest (for --arch, or its only platform); layers that are
not gzip are compressed (their tar stream kept); missing parent directory
entries are added; hard links become regular files; files and directories
under the function's paths become readable (and searchable) by everyone;
foreign layers become regular ones. The config, the layer order and every
layer that needed nothing stay byte for byte, and an image that needs
nothing keeps its digest.

Native code for another architecture, an image over the size limit, a
missing handler, no entrypoint and a wrong platform cannot be repaired
without changing what the function is: fix refuses them (exit 3) and writes
nothing.

IMAGE is read as by "lambda-oci check"; outputs and push flags are build's.
stdout carries only NAME@sha256:... (or, with --json, one JSON object).`,
		Example: `  lambda-oci fix oci:./buildx-out --arch x86_64 --tag 123456789012.dkr.ecr.eu-west-1.amazonaws.com/fn:fixed
  lambda-oci fix docker-archive:image.tar --oci-layout out --json`,
		Args: usageArgs(cobra.ExactArgs(1)),
		RunE: func(cmd *cobra.Command, args []string) error {
			ctx := cmd.Context()
			cfg, err := f.config()
			if err != nil {
				return usage(err)
			}
			if err := out.validate(); err != nil {
				return usage(err)
			}
			if err := push.validate(); err != nil {
				return usage(err)
			}
			lo, err := f.loadOptions(a)
			if err != nil {
				return err
			}
			ropts := push.options(a)
			ropts.RegistryAuth, ropts.Region = orDefault(f.registryAuth, ropts.RegistryAuth), orDefault(f.region, ropts.Region)
			pub := push.record(out.publisher(ropts, push.logTo(a)))
			if err := out.flagError(pub.Check(inputPaths(args[0]))); err != nil {
				return usage(err)
			}
			base, err := source.Open(ctx, args[0], ropts)
			if err != nil {
				return err
			}
			res, err := fix.Fix(ctx, base.Index, base.Image, fix.Options{Config: cfg, Load: lo})
			defer res.Close()
			if err != nil {
				return fmt.Errorf("fix %s: %w", args[0], err)
			}
			for _, c := range res.Layers {
				logf(a, "layer %d: %s -> %s: %s", c.Layer, c.From, c.To, strings.Join(c.Changes, "; "))
			}
			if !res.Changed {
				logf(a, "nothing to repair: written as it is (%s)", res.Digest)
			}
			p, err := pub.Publish(ctx, res.Image)
			if err != nil {
				return out.flagError(err)
			}
			o, err := describeFix(args[0], res, p.References, out)
			if err != nil {
				return err
			}
			return printResult(a, out.json, o.Reference, o)
		},
	}
	f.bind(cmd.Flags(), false)
	out.bind(cmd.Flags())
	push.bind(cmd.Flags())
	return cmd
}

func orDefault(v, d string) string {
	if v != "" {
		return v
	}
	return d
}

// inputPaths are the files an image reference reads, so that no output
// overwrites them (a layout is read lazily while the fixed image is written).
func inputPaths(ref string) []string {
	for _, pre := range []string{registry.LayoutPrefix, source.ArchivePrefix} {
		rest, ok := strings.CutPrefix(ref, pre)
		if !ok {
			continue
		}
		out := []string{rest}
		if i := strings.Index(rest, ":"); i > 0 {
			out = append(out, rest[:i])
		}
		var existing []string
		for _, p := range out {
			if _, err := os.Stat(p); err == nil {
				existing = append(existing, p)
			}
		}
		return existing
	}
	return nil
}

// fixOutput is fix's JSON result.
type fixOutput struct {
	SchemaVersion int    `json:"schemaVersion"`
	Reference     string `json:"reference"`
	Digest        string `json:"digest"`
	// Source is IMAGE; SourceDigest what it names (an index or a manifest).
	Source       string            `json:"source"`
	SourceDigest string            `json:"sourceDigest"`
	Platform     string            `json:"platform"`
	Changed      bool              `json:"changed"`
	Layers       []fix.LayerChange `json:"layers"`
	// Findings are the source's, before the fix; Warnings the fixed image's.
	Findings  []checks.Finding `json:"findings"`
	Warnings  []checks.Finding `json:"warnings"`
	OCILayout string           `json:"ociLayout,omitempty"`
	Tarball   string           `json:"tarball,omitempty"`
	Pushed    []string         `json:"pushed,omitempty"`
}

func describeFix(src string, res *fix.Result, pushed []string, out outputFlags) (*fixOutput, error) {
	n := out.imageName()
	ref, err := name.ParseReference(n)
	if err != nil {
		return nil, fmt.Errorf("image name %q: %w", n, err)
	}
	o := &fixOutput{SchemaVersion: checkSchemaVersion, Reference: ref.Context().Name() + "@" + res.Digest.String(),
		Digest: res.Digest.String(), Source: src, SourceDigest: res.Before.Digest.String(),
		Platform: lambda.PlatformString(res.Before.Platform), Changed: res.Changed,
		Layers: append([]fix.LayerChange{}, res.Layers...), Findings: append([]checks.Finding{}, res.Before.Findings...),
		Warnings: append([]checks.Finding{}, res.Findings...), OCILayout: out.ociLayout, Tarball: out.tarball, Pushed: pushed}
	if len(pushed) > 0 {
		o.Reference = pushed[0]
	}
	return o, nil
}
