package main

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// defaultImageName names an image written only to an OCI layout or a
// tarball (no --tag): podman and skopeo load it under this name.
const defaultImageName = "localhost/lambda-function:latest"

// outputFlags are where a built image goes; build and migrate share them.
type outputFlags struct {
	ociLayout string
	tarball   string
	tags      []string
	json      bool
}

func (o *outputFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&o.ociLayout, "oci-layout", "", "write the image to an OCI image layout `DIR` (named after the first --tag, else "+defaultImageName+")")
	fs.StringVar(&o.tarball, "tarball", "", "write a `FILE` that docker load / podman load read")
	fs.StringArrayVar(&o.tags, "tag", nil, "push to `REGISTRY/REPO:TAG` (repeatable)")
	fs.BoolVar(&o.json, "json", false, "print one JSON object describing the image instead of the reference")
}

// missing names the output flags when none is given.
func (o *outputFlags) missing() []string {
	if o.ociLayout == "" && o.tarball == "" && len(o.tags) == 0 {
		return []string{"an output: --oci-layout DIR, --tarball FILE and/or --tag REF"}
	}
	return nil
}

// validate cleans the output paths (a trailing slash would make "DIR/" its
// own parent) and refuses, before anything is fetched or written, outputs
// that cannot be written: a tarball path that is a directory, a layout
// path that is a file or a non-empty directory that is not a layout, a
// parent that is a file, two outputs on one path.
func (o *outputFlags) validate() error {
	if o.ociLayout == "" && o.tarball == "" && len(o.tags) == 0 {
		return errors.New("no output: pass --oci-layout DIR, --tarball FILE and/or --tag REF")
	}
	for _, t := range o.tags {
		if _, err := registry.ParseTag(t); err != nil {
			return fmt.Errorf("--tag: %w", err)
		}
	}
	o.ociLayout = cleanPath(o.ociLayout)
	o.tarball = cleanPath(o.tarball)
	return o.check(nil)
}

func cleanPath(p string) string {
	if p == "" {
		return ""
	}
	return filepath.Clean(p)
}

// publisher is every requested output, the registry last: a push cannot
// be undone, so it happens only once the local outputs are written.
func (o outputFlags) publisher(ropts registry.Options, a *app) publish.Publisher {
	var ps []publish.Publisher
	if o.ociLayout != "" {
		ps = append(ps, logged{publish.Layout(o.ociLayout, o.imageName()), a, fmt.Sprintf("wrote OCI layout %s (%s)", o.ociLayout, o.imageName())})
	}
	if o.tarball != "" {
		ps = append(ps, logged{publish.Tarball(o.tarball, o.imageName()), a, fmt.Sprintf("wrote tarball %s (%s)", o.tarball, o.imageName())})
	}
	if len(o.tags) > 0 {
		ps = append(ps, publish.Registry(o.tags, ropts))
	}
	return publish.Multi(ps...)
}

// check refuses outputs that cannot be written, or that are one of the
// inputs, naming the flag that gave the path.
func (o outputFlags) check(inputs []string) error {
	return o.flagError(o.publisher(registry.Options{}, nil).Check(inputs))
}

// flagError names the flag that gave a destination path refused or failed.
func (o outputFlags) flagError(err error) error {
	var pe *publish.PathError
	if errors.As(err, &pe) && (pe.Path == o.ociLayout || pe.Path == o.tarball) {
		flag := "--tarball"
		if pe.Path == o.ociLayout {
			flag = "--oci-layout"
		}
		return fmt.Errorf("%s %s: %w", flag, pe.Path, pe.Err)
	}
	return err
}

// logged says on stderr what a publisher wrote, as soon as it is written.
type logged struct {
	publish.Publisher
	a   *app
	msg string
}

// Unwrap lets publish.StagerOf reach a registry publisher, so its blobs
// still upload while the build runs.
func (l logged) Unwrap() publish.Publisher { return l.Publisher }

// Path keeps Multi's check that no two outputs share a path.
func (l logged) Path() string {
	if p, ok := l.Publisher.(interface{ Path() string }); ok {
		return p.Path()
	}
	return ""
}

func (l logged) Publish(ctx context.Context, img v1.Image) (*publish.Publication, error) {
	p, err := l.Publisher.Publish(ctx, img)
	if err == nil && l.a != nil {
		logf(l.a, "%s", l.msg)
	}
	return p, err
}

// imageName is the full name recorded in the layout and the tarball.
func (o outputFlags) imageName() string {
	if len(o.tags) > 0 {
		return o.tags[0]
	}
	return defaultImageName
}
