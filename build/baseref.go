package build

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"

	"github.com/lambda-oci/lambda-oci/registry"
)

// checkLocalBase refuses a base that is plainly a path to a local
// directory: as a registry reference it would only end in a DNS or parse
// error that does not mention oci:.
func checkLocalBase(ref string) error {
	if strings.HasPrefix(ref, registry.LayoutPrefix) || !isLocalDir(ref) {
		return nil
	}
	_, perr := name.ParseReference(ref)
	if perr == nil && !strings.HasPrefix(ref, ".") && !filepath.IsAbs(ref) {
		// A bare name like "python" may be both; the registry decides, and
		// its error gets the note.
		return nil
	}
	return fmt.Errorf("base %s is a local directory, not a registry reference: for an OCI layout use oci:%s (oci:PATH[:TAG])", ref, ref)
}

func isLocalDir(p string) bool {
	st, err := os.Stat(p)
	return err == nil && st.IsDir()
}

// baseFetchError names the base, and adds the oci: spelling when the
// reference is also a local directory.
func baseFetchError(ref string, err error) error {
	if isLocalDir(ref) {
		return fmt.Errorf("base %s: %w\n  (%s is a local directory: for an OCI layout use oci:%s)", ref, err, ref, ref)
	}
	return fmt.Errorf("base %s: %w", ref, err)
}
