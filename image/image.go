// Package image composes a Lambda image out of values: it picks the platform
// out of a base, appends layers in the base's media-type family and sets
// the config. Pure composition over go-containerregistry's mutate: no
// network, no files, no checks (those are the checks package's).
package image

import (
	"fmt"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Addition is one layer to append, with its history entry.
type Addition struct {
	Layer     v1.Layer
	CreatedBy string
	// Comment is the layer's kind (layer, code, bootstrap).
	Comment string
}

// Assemble appends the layers to base in the base's media-type family, and
// sets the config to cfg and the creation time to created (history entries
// too).
func Assemble(base v1.Image, fam Family, adds []Addition, cfg v1.Config, created time.Time) (v1.Image, error) {
	addenda := make([]mutate.Addendum, 0, len(adds))
	for _, a := range adds {
		addenda = append(addenda, mutate.Addendum{
			Layer:     typedLayer{a.Layer, fam.Layer},
			MediaType: fam.Layer,
			History: v1.History{
				Created:   v1.Time{Time: created},
				CreatedBy: a.CreatedBy,
				Comment:   a.Comment,
			},
		})
	}
	img, err := mutate.Append(base, addenda...)
	if err != nil {
		return nil, fmt.Errorf("appending layers: %w", err)
	}
	img, err = mutate.Config(img, cfg)
	if err != nil {
		return nil, fmt.Errorf("setting config: %w", err)
	}
	img, err = mutate.CreatedAt(img, v1.Time{Time: created})
	if err != nil {
		return nil, fmt.Errorf("setting created: %w", err)
	}
	return img, nil
}

// typedLayer gives a layer the base family's media type, in the manifest
// and in the layer's own MediaType (validate.Image compares the two).
// Embedding only the v1.Layer interface hides any Descriptor method of the
// wrapped layer, so the descriptor is computed from these values.
type typedLayer struct {
	v1.Layer
	mt types.MediaType
}

func (l typedLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
