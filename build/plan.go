package build

import (
	"fmt"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// BaseLayers are the image's layers that came from the base, in order:
// what another backend takes from the base image itself.
func (r *Result) BaseLayers() ([]v1.Layer, error) {
	ls, n, err := r.split()
	if err != nil {
		return nil, err
	}
	return ls[:n], nil
}

// AddedLayers are the layers this build made (the Lambda layers, the code,
// a bootstrap link), in order: the blobs another backend must use as they
// are for its image to have the same layer digests.
func (r *Result) AddedLayers() ([]v1.Layer, error) {
	ls, n, err := r.split()
	if err != nil {
		return nil, err
	}
	return ls[n:], nil
}

func (r *Result) split() ([]v1.Layer, int, error) {
	if r.Image == nil {
		return nil, 0, fmt.Errorf("build: result has no image (closed?)")
	}
	ls, err := r.Image.Layers()
	if err != nil {
		return nil, 0, fmt.Errorf("build: reading layers: %w", err)
	}
	n := 0
	for _, l := range r.Layers {
		if l.Kind == kindBase {
			n++
		}
	}
	if n > len(ls) {
		return nil, 0, fmt.Errorf("build: %d base layers described, image has %d layers", n, len(ls))
	}
	return ls, n, nil
}
