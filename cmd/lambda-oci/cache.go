package main

import (
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/build"
)

// cacheFlags choose the cache root (build, convert and migrate share them).
type cacheFlags struct {
	dirFlag string
	noCache bool
}

func (c *cacheFlags) bind(fs *pflag.FlagSet) {
	fs.StringVar(&c.dirFlag, "cache-dir", "", "cache for converted layers, layer listings and layer versions (default $"+build.CacheDirEnv+", else the user cache dir)")
	fs.BoolVar(&c.noCache, "no-cache", false, "convert, measure and download everything afresh; write no cache")
}

// dir is --cache-dir, else the default cache root; "" with --no-cache.
func (c cacheFlags) dir(a *app) (string, error) {
	if c.noCache {
		return "", nil
	}
	if c.dirFlag != "" {
		return c.dirFlag, nil
	}
	return build.DefaultCacheDir(a.getenv)
}
