package layerconv

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fixture is a path a test lays down before a run, and whether the run
// must have swept it.
type fixture struct {
	name  string // relative to the directory swept; a trailing / makes a directory
	files []string
	old   bool // mtime two hours ago (beyond staleTmp)
	// ancient: two days ago, beyond the 24 hours after which the cache
	// used to remove anything in its tmp directory, ours or not.
	ancient bool
	locked  bool // held with flock, as a live owner does
	link    bool // a symlink to a directory holding files
	swept   bool
}

func layDown(t *testing.T, dir string, fx []fixture) {
	t.Helper()
	old := time.Now().Add(-2 * time.Hour)
	for _, f := range fx {
		p := filepath.Join(dir, f.name)
		switch {
		case f.link:
			target := t.TempDir()
			for _, n := range f.files {
				require.NoError(t, os.WriteFile(filepath.Join(target, n), []byte("x"), 0o644))
			}
			require.NoError(t, os.Symlink(target, filepath.Clean(p)))
			continue
		case strings.HasSuffix(f.name, "/") || f.files != nil:
			require.NoError(t, os.Mkdir(p, 0o700))
			for _, n := range f.files {
				fp := filepath.Join(p, n)
				require.NoError(t, os.WriteFile(fp, []byte("x"), 0o644))
				require.NoError(t, os.Chtimes(fp, old, old))
			}
		default:
			require.NoError(t, os.WriteFile(p, []byte("x"), 0o644))
		}
		if f.locked {
			lf, err := os.Open(p)
			require.NoError(t, err)
			t.Cleanup(func() { lf.Close() })
			require.NoError(t, syscall.Flock(int(lf.Fd()), syscall.LOCK_EX))
		}
		if f.old {
			require.NoError(t, os.Chtimes(p, old, old))
		}
		if f.ancient {
			ago := time.Now().Add(-48 * time.Hour)
			require.NoError(t, os.Chtimes(p, ago, ago))
		}
	}
}

func checkSwept(t *testing.T, dir string, fx []fixture) {
	t.Helper()
	for _, f := range fx {
		_, err := os.Lstat(filepath.Join(dir, f.name))
		if f.swept {
			assert.True(t, os.IsNotExist(err), "%s should have been swept (%v)", f.name, err)
		} else {
			assert.NoError(t, err, "%s should have been kept", f.name)
		}
		if f.link {
			target, err := os.Readlink(filepath.Join(dir, filepath.Clean(f.name)))
			require.NoError(t, err)
			for _, n := range f.files {
				assert.FileExists(t, filepath.Join(target, n), "nothing is removed through a link")
			}
		}
	}
}

// Temporaries a killed run left are swept by the next run in the same
// place: only names of ours, only when older than staleTmp, and only when
// no live process holds them.
func TestSweepStaleTemporaries(t *testing.T) {
	// In a directory that holds the temporary directories of uncached
	// conversions (Options.TempDir, the system temp dir) and the
	// temporaries of WriteFile.
	beside := []fixture{
		{name: ".layerconv-123/", files: []string{"layer-456.tar.gz.tmp"}, old: true, swept: true},
		{name: ".layerconv-124/", old: true, swept: true}, // killed before the blob was made
		{name: ".layerconv-125.tmp", old: true, swept: true},
		{name: ".layerconv-126/", files: []string{"layer-1.tar.gz.tmp"}, swept: false},            // fresh
		{name: ".layerconv-127/", files: []string{"layer-1.tar.gz.tmp"}, old: true, locked: true}, // a live owner
		{name: ".layerconv-128/", files: []string{"layer-1.tar.gz.tmp", "notes.txt"}, old: true},  // not all ours
		{name: ".layerconv-129.tmp", old: true, locked: true},                                     // a live WriteFile
		{name: ".layerconv-abc/", files: []string{"layer-1.tar.gz.tmp"}, old: true},               // not our name
		{name: ".layerconv-130", link: true, files: []string{"layer-1.tar.gz.tmp"}, old: false},   // a link, not a directory
		{name: ".layerconv-131.tmp/", files: []string{"layer-1.tar.gz.tmp"}, old: true},           // a directory named as a file of ours
		{name: "layer.tar.gz", old: true},
		{name: ".layerconv-notes", old: true},
	}
	cacheTmp := []fixture{
		{name: "layer-1.tar.gz.tmp", old: true, swept: true},
		{name: "key-2.json.tmp", old: true, swept: true},
		{name: "layer-3.tar.gz.tmp"},                                   // fresh: maybe converting now
		{name: "layer-4.tar.gz.tmp", old: true, locked: true},          // a live owner, converting for hours
		{name: "layer-x.tar.gz.tmp", ancient: true},                    // not our name
		{name: "notes.txt", ancient: true},                             // not ours at all
		{name: "layer-5.tar.gz.tmp/", files: []string{"a"}, old: true}, // a directory
	}
	zipPath := writeZip(t, []zent{{name: "a", body: "a", mode: 0o644}})
	ctx := context.Background()

	t.Run("Options.TempDir", func(t *testing.T) {
		dir := t.TempDir()
		layDown(t, dir, beside)
		r, err := ConvertZip(ctx, zipPath, Options{TempDir: dir})
		require.NoError(t, err)
		defer r.Close()
		checkSwept(t, dir, beside)
	})
	t.Run("system temp dir", func(t *testing.T) {
		dir := t.TempDir()
		t.Setenv("TMPDIR", dir)
		layDown(t, dir, beside)
		r, err := ConvertZip(ctx, zipPath, Options{})
		require.NoError(t, err)
		defer r.Close()
		checkSwept(t, dir, beside)
	})
	t.Run("directory written to", func(t *testing.T) {
		dir := t.TempDir()
		layDown(t, dir, beside)
		r, err := ConvertZip(ctx, zipPath, Options{TempDir: t.TempDir()})
		require.NoError(t, err)
		defer r.Close()
		require.NoError(t, r.WriteFile(ctx, filepath.Join(dir, "layer.tar.gz")))
		checkSwept(t, dir, beside)
	})
	for _, hit := range []bool{false, true} {
		name := "cache tmp at a miss"
		if hit {
			name = "cache tmp at a hit"
		}
		t.Run(name, func(t *testing.T) {
			cache := t.TempDir()
			if hit {
				r, err := ConvertZip(ctx, zipPath, Options{CacheDir: cache})
				require.NoError(t, err)
				r.Close()
			}
			tmp := filepath.Join(cache, "layerconv", "tmp")
			require.NoError(t, os.MkdirAll(tmp, 0o755))
			layDown(t, tmp, cacheTmp)
			r, err := ConvertZip(ctx, zipPath, Options{CacheDir: cache})
			require.NoError(t, err)
			assert.Equal(t, hit, r.CacheHit)
			checkSwept(t, tmp, cacheTmp)
		})
	}
}

// A Result in use keeps its temporary directory, however old, while other
// conversions sweep the same place; once closed and old, it is swept.
func TestSweepSparesALiveResult(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	zipPath := writeZip(t, []zent{{name: "a", body: "a", mode: 0o644}})
	live, err := ConvertZip(ctx, zipPath, Options{TempDir: dir})
	require.NoError(t, err)
	defer live.Close()
	old := time.Now().Add(-3 * time.Hour)
	tmp := filepath.Dir(live.blobPath)
	require.NoError(t, os.Chtimes(tmp, old, old))
	require.NoError(t, os.Chtimes(live.blobPath, old, old))

	other, err := ConvertZip(ctx, zipPath, Options{TempDir: dir})
	require.NoError(t, err)
	require.NoError(t, other.Close())
	out := filepath.Join(t.TempDir(), "out.tar.gz")
	require.NoError(t, live.WriteFile(ctx, out), "the live blob is still there")
	// Linked into place, with a current mtime: the link is never a
	// stale-looking .layerconv-N.tmp, even for the instant before its rename.
	fi, err := os.Stat(out)
	require.NoError(t, err)
	assert.WithinDuration(t, time.Now(), fi.ModTime(), time.Minute)
	rc, err := live.Layer.Compressed()
	require.NoError(t, err)
	rc.Close()
}
