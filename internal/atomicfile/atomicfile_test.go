package atomicfile

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestWriteFile(t *testing.T) {
	tests := []struct {
		name string
		perm os.FileMode
	}{{"public", 0o644}, {"secret", 0o600}}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			p := filepath.Join(dir, "f")
			require.NoError(t, os.WriteFile(p, []byte("old"), 0o666))
			require.NoError(t, WriteFile(p, []byte("new"), tc.perm))
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			assert.Equal(t, "new", string(b))
			st, err := os.Stat(p)
			require.NoError(t, err)
			assert.Equal(t, tc.perm, st.Mode().Perm())
			ents, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Len(t, ents, 1, "no temporary file left")
		})
	}
}

func TestWriteFailureKeepsOldContent(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "f")
	require.NoError(t, os.WriteFile(p, []byte("old"), 0o644))
	boom := errors.New("boom")
	err := Write(p, 0o644, func(f *os.File) error {
		_, _ = f.WriteString("half")
		return boom
	})
	require.ErrorIs(t, err, boom)
	assert.Contains(t, err.Error(), p)
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	assert.Equal(t, "old", string(b))
	ents, err := os.ReadDir(dir)
	require.NoError(t, err)
	assert.Len(t, ents, 1, "temporary file removed")

	// A missing directory is an error naming the path, not a panic.
	err = WriteFile(filepath.Join(dir, "missing", "f"), nil, 0o644)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "missing")
}
