package build

import (
	"context"

	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/publish"
)

// Publish is a whole build as a command runs it: the destination is checked
// before any work (it must be writable and must not be one of the spec's
// inputs), the spec is built and checked, then published, all or nothing.
// A registry destination gets the image's blobs while the build runs (base
// layers as they are read, added layers as they are converted), so a
// refused build may leave blobs there, but never a manifest or a tag.
// The returned Result describes the image; its Image can no longer be read
// (the build's temporary files are gone).
func Publish(ctx context.Context, spec Spec, pub publish.Publisher, opts Options) (*Result, *publish.Publication, error) {
	return publishVerified(ctx, spec, pub, opts, nil)
}

// publishVerified is Publish with a last look (verify) before publishing.
func publishVerified(ctx context.Context, spec Spec, pub publish.Publisher, opts Options, verify func(*Result) error) (*Result, *publish.Publication, error) {
	if err := pub.Check(SpecInputs(spec)); err != nil {
		return nil, nil, err
	}
	if opts.CacheFrom == nil && !opts.NoCacheFrom {
		opts.CacheFrom = publish.Tags(pub)
	}
	// A destination that takes blobs early (a registry) gets them while
	// the build runs; the manifest and tags still wait for the checks.
	st := newStage(ctx, publish.StagerOf(pub))
	opts.stage = st
	res, err := Build(ctx, spec, opts)
	if err != nil {
		st.abort()
		return nil, nil, err
	}
	defer res.Close()
	if verify != nil {
		if err := verify(res); err != nil {
			st.abort()
			return nil, nil, err
		}
	}
	if err := st.wait(); err != nil {
		return nil, nil, err
	}
	p, err := pub.Publish(ctx, res.Image)
	if err != nil {
		return nil, nil, err
	}
	return res, p, nil
}

// SpecInputs are the files and directories a spec reads (layer version
// ARNs are fetched into the cache, which is never a destination).
func SpecInputs(spec Spec) []string {
	var out []string
	for _, l := range spec.Layers {
		if !lambdaapi.IsLayerARN(l.Path) {
			out = append(out, l.Path)
		}
	}
	if spec.Code.Path != "" {
		out = append(out, spec.Code.Path)
	}
	return out
}
