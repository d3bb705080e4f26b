package publish

import (
	"fmt"
	"strings"
)

// WriteImageRefs writes refs one per line to path, atomically, for later
// CI steps (ko's --image-refs).
func WriteImageRefs(path string, refs []string) error {
	if err := writeFile(path, []byte(strings.Join(refs, "\n")+"\n")); err != nil {
		return fmt.Errorf("image refs %s: %w", path, err)
	}
	return nil
}
