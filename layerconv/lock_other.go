//go:build !unix

package layerconv

import (
	"errors"
	"os"
)

// Without flock there is no telling a live owner from a dead one, so
// nothing is swept: a leftover is better than a removed blob in use.

func lock(*os.File) {}

func tryLock(*os.File) bool { return false }

func openNoFollow(string, bool) (*os.File, error) {
	return nil, errors.New("not supported")
}
