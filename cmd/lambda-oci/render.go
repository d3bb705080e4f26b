package main

import (
	"encoding/json"
	"fmt"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/publish"
)

// layerJSON is one layer in the JSON result.
type layerJSON struct {
	Digest           string `json:"digest"`
	MediaType        string `json:"mediaType"`
	Size             int64  `json:"size"`
	UncompressedSize int64  `json:"uncompressedSize"`
	Kind             string `json:"kind"`
	Source           string `json:"source"`
	Path             string `json:"path,omitempty"`
	CacheHit         bool   `json:"cacheHit,omitempty"`
	// Reused is the previous image (--cache-from) the layer was taken
	// from instead of converting its input.
	Reused string `json:"reused,omitempty"`
	// Push is what the push did with the blob: pushed, exists or mounted.
	Push string `json:"push,omitempty"`
}

// schemaVersion is the version of every --json object (build, migrate,
// convert, runtimes, check, fix): bumped when a field changes meaning or
// goes away; new fields do not bump it.
const schemaVersion = 1

// buildOutput is the result of a build: the JSON object --json prints.
type buildOutput struct {
	SchemaVersion    int         `json:"schemaVersion"`
	Reference        string      `json:"reference"`
	Digest           string      `json:"digest"`
	MediaType        string      `json:"mediaType"`
	Platform         string      `json:"platform"`
	Arch             string      `json:"arch"`
	Base             string      `json:"base"`
	BaseDigest       string      `json:"baseDigest"`
	Handler          string      `json:"handler"`
	Size             int64       `json:"size"`
	UncompressedSize int64       `json:"uncompressedSize"`
	ManifestSize     int64       `json:"manifestSize"`
	Layers           []layerJSON `json:"layers"`
	OCILayout        string      `json:"ociLayout,omitempty"`
	Tarball          string      `json:"tarball,omitempty"`
	Tags             []string    `json:"tags,omitempty"`
	// Pushed are REPO@sha256:… for every pushed repository.
	Pushed []string `json:"pushed,omitempty"`
	// ConfigPush is what the push did with the config blob.
	ConfigPush string   `json:"configPush,omitempty"`
	Warnings   []string `json:"warnings"`
}

// describeBuild turns a build and its publication into the result object.
func describeBuild(res *build.Result, pub *publish.Publication, out outputFlags) (*buildOutput, error) {
	imgName := out.imageName()
	nameRef, err := name.ParseReference(imgName)
	if err != nil {
		return nil, fmt.Errorf("image name %q: %w", imgName, err)
	}
	o := &buildOutput{
		SchemaVersion: schemaVersion,
		Reference:     nameRef.Context().Name() + "@" + res.Digest.String(),
		Digest:        res.Digest.String(), MediaType: string(res.MediaType),
		Platform: res.Platform.OS + "/" + res.Platform.Architecture, Arch: string(res.Arch),
		Base: res.Base, BaseDigest: res.BaseDigest.String(), Handler: res.Handler,
		Size: res.Size, UncompressedSize: res.UncompressedSize, ManifestSize: res.ManifestSize,
		OCILayout: out.ociLayout, Tarball: out.tarball, Tags: out.tags,
		Warnings: append([]string{}, res.Warnings...),
	}
	for _, l := range res.Layers {
		o.Layers = append(o.Layers, layerJSON{
			Digest: l.Digest.String(), MediaType: string(l.MediaType), Size: l.Size,
			UncompressedSize: l.UncompressedSize, Kind: l.Kind, Source: l.Source, Path: l.Path, CacheHit: l.CacheHit,
			Reused: l.Reused,
		})
	}
	if pub == nil || pub.Push == nil {
		return o, nil
	}
	o.Pushed = pub.References
	if len(pub.References) > 0 {
		o.Reference = pub.References[0]
	}
	status := map[string]string{}
	for _, b := range pub.Push.Layers {
		if b.Config {
			o.ConfigPush = b.Status
			continue
		}
		status[b.Digest.String()] = b.Status
	}
	for i := range o.Layers {
		o.Layers[i].Push = status[o.Layers[i].Digest]
	}
	return o, nil
}

// printResult prints the reference, or the object with --json.
func printResult(a *app, asJSON bool, ref string, v any) error {
	if !asJSON {
		_, err := fmt.Fprintln(a.stdout, ref)
		return err
	}
	enc := json.NewEncoder(a.stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// events renders the library's events as log lines on stderr; with quiet
// only warnings (what is wrong with the image) are printed.
func events(a *app, quiet bool) func(build.Event) {
	return func(e build.Event) {
		if e.Kind == build.Warning {
			logf(a, "warning: %s", e.Message)
			return
		}
		if !quiet {
			logf(a, "%s", e.Message)
		}
	}
}

// logf writes one log line on stderr; stdout carries only results.
func logf(a *app, format string, args ...any) {
	fmt.Fprintf(a.stderr, "lambda-oci: "+format+"\n", args...)
}
