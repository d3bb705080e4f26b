package layerconv

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestConvertFile(t *testing.T) {
	ctx := context.Background()
	good := writeZip(t, []zent{{name: "python/app.py", body: "x = 1\n", mode: 0o644}})
	bad := writeZip(t, []zent{{name: "../escape", body: "x", mode: 0o644}})
	root := t.TempDir()

	// Missing parents are made; the layer lands at out.
	out := filepath.Join(root, "a", "b", "layer.tar.gz")
	res, err := ConvertFile(ctx, good, out, Options{})
	require.NoError(t, err)
	defer res.Close()
	st, err := os.Stat(out)
	require.NoError(t, err)
	assert.Equal(t, res.Size, st.Size())

	// A failed conversion leaves nothing: no file, no parents it made.
	out2 := filepath.Join(root, "c", "d", "layer.tar.gz")
	_, err = ConvertFile(ctx, bad, out2, Options{})
	require.ErrorIs(t, err, ErrPathEscapes)
	_, err = os.Stat(filepath.Join(root, "c"))
	assert.True(t, os.IsNotExist(err), "parents made for the failed output are removed")

	// A directory, or the input itself, is refused before any work.
	_, err = ConvertFile(ctx, good, filepath.Join(root, "a"), Options{})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "is a directory")
	_, err = ConvertFile(ctx, good, good, Options{})
	require.ErrorIs(t, err, ErrOutputIsInput)
}
