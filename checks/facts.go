package checks

import (
	"fmt"
	"io"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// readFacts reads a file lambda.WantsFacts while its layer streams by and
// records its facts; it returns the bytes read (the whole file, its head
// when its facts come from there, or its first bytes when it is above
// lambda.FactsLimit and is not buffered) for the ELF check.
func readFacts(r io.Reader, p string, size int64) (*lambda.FileFacts, []byte, error) {
	if lambda.FactsFromHead(p) {
		head := make([]byte, min(size, max(lambda.FactsLimit(p), 20)))
		if _, err := io.ReadFull(r, head); err != nil {
			return nil, nil, fmt.Errorf("tar entry %q: %w", p, err)
		}
		return lambda.ReadFacts(p, head), head, nil
	}
	if size > lambda.FactsLimit(p) {
		head := make([]byte, min(size, 20))
		if _, err := io.ReadFull(r, head); err != nil {
			return nil, nil, fmt.Errorf("tar entry %q: %w", p, err)
		}
		return lambda.TooLargeFacts(p, size), head, nil
	}
	b := make([]byte, size)
	if _, err := io.ReadFull(r, b); err != nil {
		return nil, nil, fmt.Errorf("tar entry %q: %w", p, err)
	}
	return lambda.ReadFacts(p, b), b, nil
}
