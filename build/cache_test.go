package build

import (
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDefaultCacheDir(t *testing.T) {
	d, err := DefaultCacheDir(func(k string) string {
		if k == CacheDirEnv {
			return "/x/cache"
		}
		return ""
	})
	require.NoError(t, err)
	assert.Equal(t, "/x/cache", d)

	t.Setenv("XDG_CACHE_HOME", "/xdg")
	d, err = DefaultCacheDir(func(string) string { return "" })
	require.NoError(t, err)
	assert.Equal(t, "/xdg/lambda-oci", d)
}

func TestCacheLayout(t *testing.T) {
	c := Cache{Root: "/c"}
	assert.Equal(t, "/c", c.Layers(), "layerconv adds its own layerconv/")
	assert.Equal(t, filepath.Join("/c", "layer-scan"), c.Listings())
	assert.Equal(t, filepath.Join("/c", "lambdaapi"), c.LayerVersions())
	assert.Empty(t, Cache{}.Listings(), "no root, no cache")
}
