package layerconv

import (
	"archive/zip"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func inode(t *testing.T, p string) uint64 {
	t.Helper()
	fi, err := os.Stat(p)
	require.NoError(t, err)
	return fi.Sys().(*syscall.Stat_t).Ino
}

func TestCacheHit(t *testing.T) {
	p := writeZip(t, []zent{{name: "python/a.py", body: "a", mode: 0o644}, {name: "__MACOSX/x", body: "x"}})
	cache := t.TempDir()
	ctx := context.Background()

	first, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.False(t, first.CacheHit)
	blobIno := inode(t, first.blobPath)

	second, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.True(t, second.CacheHit)
	assert.Equal(t, blobIno, inode(t, second.blobPath), "a hit reuses the blob: nothing was converted")
	first.CacheHit = true
	first.Layer, second.Layer = nil, nil
	assert.True(t, os.SameFile(first.srcInfo, second.srcInfo), "both know their input")
	first.srcInfo, second.srcInfo = nil, nil
	assert.Equal(t, first, second)

	require.NoError(t, second.Close())
	assert.FileExists(t, second.blobPath, "Close keeps cached blobs")
	entries, err := os.ReadDir(filepath.Join(cache, "layerconv", "tmp"))
	require.NoError(t, err)
	assert.Empty(t, entries, "no temporary files left")

	// Every option and the input content are part of the key.
	for name, opts := range map[string]Options{
		"prefix":  {CacheDir: cache, Prefix: "/var/task"},
		"mtime":   {CacheDir: cache, ModTime: epoch.Add(1e9)},
		"maxsize": {CacheDir: cache, MaxSize: 1 << 20},
	} {
		r, err := ConvertZip(ctx, p, opts)
		require.NoError(t, err, name)
		assert.False(t, r.CacheHit, name)
	}
	p2 := writeZip(t, []zent{{name: "python/a.py", body: "b", mode: 0o644}})
	r, err := ConvertZip(ctx, p2, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.False(t, r.CacheHit)
	assert.NotEqual(t, first.Digest, r.Digest)
}

func TestCacheDamagedEntryIsAMiss(t *testing.T) {
	p := writeZip(t, []zent{{name: "a", body: "a", mode: 0o644}})
	cache := t.TempDir()
	ctx := context.Background()
	first, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)

	require.NoError(t, os.Truncate(first.blobPath, 3))
	r, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.False(t, r.CacheHit, "a truncated blob is converted again")
	assert.Equal(t, first.Digest, r.Digest)

	keys, err := filepath.Glob(filepath.Join(cache, "layerconv", "keys", "*.json"))
	require.NoError(t, err)
	require.Len(t, keys, 1)
	require.NoError(t, os.WriteFile(keys[0], []byte("{not json"), 0o644))
	r, err = ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.False(t, r.CacheHit)
	r, err = ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.True(t, r.CacheHit, "repaired")
}

// A blob of the right size with the wrong content (bit rot, a tool that
// rewrote it) is a miss: converted again, the bad file replaced atomically
// by a new one, never returned under a digest it does not have.
func TestCacheDamagedBlobOfTheRightSizeIsAMiss(t *testing.T) {
	p := writeZip(t, []zent{{name: "a", body: strings.Repeat("abc", 10000), mode: 0o644, method: zip.Deflate}})
	cache := t.TempDir()
	ctx := context.Background()
	first, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.NoError(t, err)
	good, err := os.ReadFile(first.blobPath)
	require.NoError(t, err)

	for name, damage := range map[string]func([]byte) []byte{
		"zeroed":      func(b []byte) []byte { return make([]byte, len(b)) },
		"one bit off": func(b []byte) []byte { b = bytes.Clone(b); b[len(b)/2] ^= 1; return b },
	} {
		t.Run(name, func(t *testing.T) {
			require.NoError(t, os.WriteFile(first.blobPath, damage(good), 0o644))
			before := inode(t, first.blobPath)
			r, err := ConvertZip(ctx, p, Options{CacheDir: cache})
			require.NoError(t, err)
			assert.False(t, r.CacheHit, "the damaged blob is not a hit")
			assert.Equal(t, first.Digest, r.Digest)
			got, err := os.ReadFile(r.blobPath)
			require.NoError(t, err)
			assert.Equal(t, good, got, "the blob is repaired")
			assert.NotEqual(t, before, inode(t, first.blobPath), "replaced by rename, not rewritten in place")
			r, err = ConvertZip(ctx, p, Options{CacheDir: cache})
			require.NoError(t, err)
			assert.True(t, r.CacheHit)
		})
	}
}

// Two converters filling the same cache at once both succeed with the same
// layer, and the cache stays consistent.
func TestCacheConcurrent(t *testing.T) {
	var ents []zent
	for i := range 200 {
		ents = append(ents, zent{name: "f/" + string(rune('a'+i%26)) + string(rune('a'+i/26)), body: string(make([]byte, 10000+i)), mode: 0o644})
	}
	p := writeZip(t, ents)
	cache := t.TempDir()
	const n = 4
	results := make([]*Result, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { results[i], errs[i] = ConvertZip(context.Background(), p, Options{CacheDir: cache}) })
	}
	wg.Wait()
	for i := range n {
		require.NoError(t, errs[i])
		assert.Equal(t, results[0].Digest, results[i].Digest)
		got := readResult(t, results[i])
		assert.Len(t, got, 200+2)
	}
	blobs, err := filepath.Glob(filepath.Join(cache, "layerconv", "blobs", "sha256", "*"))
	require.NoError(t, err)
	assert.Len(t, blobs, 1)
	tmp, err := os.ReadDir(filepath.Join(cache, "layerconv", "tmp"))
	require.NoError(t, err)
	assert.Empty(t, tmp)
	r, err := ConvertZip(context.Background(), p, Options{CacheDir: cache})
	require.NoError(t, err)
	assert.True(t, r.CacheHit)
}

func TestConvertIsRefusedWithCacheToo(t *testing.T) {
	p := writeZip(t, []zent{{name: "../x", body: "x", mode: 0o644}})
	cache := t.TempDir()
	_, err := ConvertZip(context.Background(), p, Options{CacheDir: cache})
	assert.ErrorIs(t, err, ErrPathEscapes)
	blobs, _ := filepath.Glob(filepath.Join(cache, "layerconv", "blobs", "*", "*"))
	assert.Empty(t, blobs)
}

func TestCancelLeavesNothing(t *testing.T) {
	var ents []zent
	for i := range 50 {
		ents = append(ents, zent{name: "f" + string(rune('a'+i%26)) + string(rune('a'+i/26)), body: string(make([]byte, 1<<20)), mode: 0o644})
	}
	p := writeZip(t, ents)
	cache := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := ConvertZip(ctx, p, Options{CacheDir: cache})
	require.ErrorIs(t, err, context.Canceled)
	for _, sub := range []string{"tmp", "blobs", "keys"} {
		ents, _ := filepath.Glob(filepath.Join(cache, "layerconv", sub, "*"))
		assert.Empty(t, ents, sub)
	}
}

func TestCacheRemovesStaleTemporaries(t *testing.T) {
	cache := t.TempDir()
	tmp := filepath.Join(cache, "layerconv", "tmp")
	require.NoError(t, os.MkdirAll(tmp, 0o755))
	stale := filepath.Join(tmp, "layer-1.tar.gz.tmp")
	fresh := filepath.Join(tmp, "layer-2.tar.gz.tmp") // maybe another process's, in progress
	require.NoError(t, os.WriteFile(stale, []byte("x"), 0o644))
	require.NoError(t, os.WriteFile(fresh, []byte("x"), 0o644))
	old := time.Now().Add(-48 * time.Hour)
	require.NoError(t, os.Chtimes(stale, old, old))

	_, err := ConvertZip(context.Background(), writeZip(t, []zent{{name: "a", body: "a", mode: 0o644}}), Options{CacheDir: cache})
	require.NoError(t, err)
	assert.NoFileExists(t, stale)
	assert.FileExists(t, fresh)
}

// With a cache, the zip's sha256 (its cache key) is handed back, fresh or
// from the cache, so a caller need not read the zip again; without one
// it is not computed.
func TestInputSHA256(t *testing.T) {
	p := writeZip(t, []zent{{name: "python/a.py", body: "a = 1\n", mode: 0o644}})
	data, err := os.ReadFile(p)
	require.NoError(t, err)
	sum := sha256.Sum256(data)
	want := hex.EncodeToString(sum[:])
	cache := t.TempDir()
	for _, hit := range []bool{false, true} {
		r, err := ConvertZip(context.Background(), p, Options{CacheDir: cache})
		require.NoError(t, err)
		assert.Equal(t, hit, r.CacheHit)
		assert.Equal(t, want, r.InputSHA256)
		require.NoError(t, r.Close())
	}
	r, err := ConvertZip(context.Background(), p, Options{})
	require.NoError(t, err)
	defer r.Close()
	assert.Empty(t, r.InputSHA256)
}
