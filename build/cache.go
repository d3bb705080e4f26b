package build

import (
	"fmt"
	"os"
	"path/filepath"
)

// CacheDirEnv overrides the default cache root.
const CacheDirEnv = "LAMBDA_OCI_CACHE_DIR"

// DefaultCacheDir is $LAMBDA_OCI_CACHE_DIR, else lambda-oci under the user
// cache directory (os.UserCacheDir: $XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultCacheDir(getenv func(string) string) (string, error) {
	if d := getenv(CacheDirEnv); d != "" {
		return d, nil
	}
	d, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("no cache directory (set %s): %w", CacheDirEnv, err)
	}
	return filepath.Join(d, "lambda-oci"), nil
}

// Cache is the one owner of the cache root's layout. Everything in it is
// content-addressed or keyed by an immutable name, so concurrent builds
// share it safely:
//
//	ROOT/layerconv/   converted layers by input sha256 (layerconv's own layout)
//	ROOT/layer-scan/  layer listings by layer digest (package checks)
//	ROOT/lambdaapi/   layer version zips by CodeSha256, and the ARN index
type Cache struct {
	Root string
}

// Layers is the directory handed to layerconv (it adds layerconv/ itself).
func (c Cache) Layers() string { return c.Root }

// Listings is where layer listings are kept.
func (c Cache) Listings() string { return c.sub("layer-scan") }

// LayerVersions is where downloaded layer versions are kept.
func (c Cache) LayerVersions() string { return c.sub("lambdaapi") }

func (c Cache) sub(name string) string {
	if c.Root == "" {
		return ""
	}
	return filepath.Join(c.Root, name)
}
