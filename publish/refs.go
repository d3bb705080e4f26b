package publish

import (
	"os"
	"strings"

	"github.com/lambda-oci/lambda-oci/internal/atomicfile"
)

// WriteImageRefs writes refs one per line to path, atomically, for later
// CI steps.
func WriteImageRefs(path string, refs []string) error {
	return atomicfile.Write(path, 0o644, func(f *os.File) error {
		_, err := f.WriteString(strings.Join(refs, "\n") + "\n")
		return err
	})
}
