package image

import (
	"fmt"

	"github.com/google/go-containerregistry/pkg/v1/types"
)

// Family is the media-type family of a manifest: Lambda rejects manifests
// that mix Docker and OCI types, so added layers follow the base.
type Family struct {
	Name     string
	Manifest types.MediaType
	Layer    types.MediaType
}

// FamilyOf is the family of a manifest media type Lambda accepts.
func FamilyOf(mt types.MediaType) (Family, error) {
	switch mt {
	case types.DockerManifestSchema2:
		return Family{Name: "docker", Manifest: mt, Layer: types.DockerLayer}, nil
	case types.OCIManifestSchema1:
		return Family{Name: "oci", Manifest: mt, Layer: types.OCILayer}, nil
	}
	return Family{}, fmt.Errorf("manifest media type %q: Lambda accepts only %s or %s",
		mt, types.DockerManifestSchema2, types.OCIManifestSchema1)
}
