package main

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/buildkit"
	"github.com/lambda-oci/lambda-oci/publish"
)

// builderFlags choose where the image is assembled: in this process (the
// default) or on a BuildKit daemon.
type builderFlags struct {
	builder string
}

func (b *builderFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&b.builder, "builder", "", "assemble and push the image on a BuildKit daemon: buildkit://ADDR (unix://, tcp://, docker-container://, kube-pod://...; buildkit:// alone takes "+buildkit.HostEnv+"); default: in-process")
}

// address is the daemon address, or "" for the in-process builder.
func (b builderFlags) address(a *app) (string, error) {
	if b.builder == "" {
		return "", nil
	}
	if !strings.HasPrefix(b.builder, buildkit.Scheme) {
		return "", fmt.Errorf("--builder %q: want %sADDR", b.builder, buildkit.Scheme)
	}
	if addr, ok := buildkit.ParseAddress(b.builder); ok {
		return addr, nil
	}
	if addr := a.getenv(buildkit.HostEnv); addr != "" {
		return addr, nil
	}
	return "", fmt.Errorf("--builder %s: no address, and %s is not set", buildkit.Scheme, buildkit.HostEnv)
}

// buildOnDaemon is build with --builder buildkit://ADDR: the daemon pushes
// the image to every --tag; it writes no local outputs.
func buildOnDaemon(ctx context.Context, a *app, addr string, spec build.Spec, opts build.Options, out outputFlags, push pushFlags) error {
	if out.ociLayout != "" || out.tarball != "" {
		return errors.New("--builder buildkit:// pushes from the daemon: use --tag, not --oci-layout or --tarball")
	}
	if len(out.tags) == 0 {
		return errors.New("--builder buildkit:// needs --tag: the daemon pushes the image")
	}
	if push.createRepository {
		return errors.New("--create-repository is not supported with --builder buildkit://: create the repository first")
	}
	if push.imageRefs != "" {
		if err := publish.CheckFile(push.imageRefs); err != nil {
			return fmt.Errorf("--image-refs %s: %w", push.imageRefs, err)
		}
	}
	bopts := buildkit.Options{Address: addr, Tags: out.tags, Build: opts}
	if !push.quiet {
		bopts.Events = func(e buildkit.Event) { logf(a, "buildkit: %s", describeStep(e)) }
	}
	res, err := buildkit.Build(ctx, spec, bopts)
	if err != nil {
		return err
	}
	if push.imageRefs != "" {
		if err := publish.WriteImageRefs(push.imageRefs, res.References); err != nil {
			return fmt.Errorf("--image-refs %s: %w", push.imageRefs, err)
		}
	}
	o, err := describeBuild(res.Build, nil, out)
	if err != nil {
		return err
	}
	// What the daemon pushed: its manifest (the same layers, the same
	// config, serialised by the daemon).
	o.Digest, o.MediaType, o.ManifestSize = res.Digest.String(), string(res.MediaType), res.ManifestSize
	o.Pushed = res.References
	if len(res.References) > 0 {
		o.Reference = res.References[0]
	}
	return printResult(a, out.json, o.Reference, o)
}

// describeStep is one progress line.
func describeStep(e buildkit.Event) string {
	var b strings.Builder
	b.WriteString(e.Name)
	if e.Task != "" {
		fmt.Fprintf(&b, ": %s", e.Task)
	}
	switch {
	case e.Error != "":
		fmt.Fprintf(&b, ": error: %s", e.Error)
	case e.Cached:
		b.WriteString(" (cached)")
	default:
		fmt.Fprintf(&b, " (%.2fs)", e.Duration.Seconds())
	}
	return b.String()
}
