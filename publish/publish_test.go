package publish

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sys/unix"
)

// Issue 16 #5: an output that is one of the build's inputs is refused by
// Check, whatever the spelling of its path (compared by device and inode).
func TestCheckRefusesInputs(t *testing.T) {
	dir := t.TempDir()
	zip := filepath.Join(dir, "code.zip")
	require.NoError(t, os.WriteFile(zip, []byte("PK precious"), 0o644))
	link := filepath.Join(dir, "hard.zip")
	require.NoError(t, os.Link(zip, link))
	codeDir := filepath.Join(dir, "code")
	require.NoError(t, os.Mkdir(codeDir, 0o755))
	for _, tc := range []struct {
		name   string
		p      Publisher
		inputs []string
		want   string
	}{
		{"tarball is the code zip", Tarball(zip, "example.com/fn:1"), []string{zip}, "is also an input"},
		{"tarball is a hard link to a layer", Tarball(link, "example.com/fn:1"), []string{"x.zip", zip}, "is also an input of the build (" + zip + ")"},
		{"other spelling", Tarball(filepath.Join(dir, ".", "code.zip"), "example.com/fn:1"), []string{zip}, "is also an input"},
		{"layout is the code directory", Layout(codeDir, "x"), []string{codeDir}, "is also an input"},
		{"in a Multi", Multi(Layout(filepath.Join(dir, "l"), "x"), Tarball(zip, "example.com/fn:1")), []string{zip}, "tarball " + zip + ": is also an input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.p.Check(tc.inputs)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
			var pe *PathError
			assert.ErrorAs(t, err, &pe)
		})
	}
	assert.NoError(t, Tarball(filepath.Join(dir, "out.tar"), "example.com/fn:1").Check([]string{zip}))
	b, err := os.ReadFile(zip)
	require.NoError(t, err)
	assert.Equal(t, "PK precious", string(b))
}

func TestMultiCheckRefusesOnePathTwice(t *testing.T) {
	dir := t.TempDir()
	err := Multi(Layout(filepath.Join(dir, "x"), "n"), Tarball(filepath.Join(dir, "x")+"/", "example.com/fn:1")).Check(nil)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "both name "+filepath.Join(dir, "x"))
}

// A later destination failing undoes the earlier ones: nothing is left,
// not even the parents made for them; what was there stays.
func TestMultiUndoesEarlierOnFailure(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "keep"), []byte("precious"), 0o644))
	before := snapshot(t, dir)
	img := ociImage(t, nil, 2)
	_, err := Multi(Layout(filepath.Join(dir, "a", "l"), "n"), Tarball(filepath.Join(dir, "b", "t.tar"), "example.com/fn:1"), failing{}).Publish(ctx, img)
	require.ErrorContains(t, err, "refused")
	assert.Equal(t, before, snapshot(t, dir))

	// Success: every part, in order; Undo takes all back.
	p, err := Multi(Layout(filepath.Join(dir, "a", "l"), "n"), Tarball(filepath.Join(dir, "b", "t.tar"), "example.com/fn:1")).Publish(ctx, img)
	require.NoError(t, err)
	require.Len(t, p.Parts, 2)
	assert.Equal(t, "oci layout "+filepath.Join(dir, "a", "l"), p.Parts[0].Destination)
	assert.Equal(t, "tarball "+filepath.Join(dir, "b", "t.tar"), p.Parts[1].Destination)
	assertImageIn(t, filepath.Join(dir, "a", "l"), "n", img)
	require.NoError(t, p.Undo())
	assert.Equal(t, before, snapshot(t, dir))
	assert.NoError(t, p.Undo(), "a second Undo does nothing")
}

// Undo of an image that replaced a same-named entry puts that entry back
// (the layout is as it was), unless another run has replaced ours since.
func TestLayoutUndoRestoresReplacedEntry(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "out")
	base := ociImage(t, nil, 1)
	old := ociImage(t, base, 1)
	_, err := Layout(dir, "fn:latest").Publish(ctx, old)
	require.NoError(t, err)
	before := snapshot(t, dir)

	p, err := Layout(dir, "fn:latest").Publish(ctx, ociImage(t, base, 1))
	require.NoError(t, err)
	require.NoError(t, p.Undo())
	assert.Equal(t, before, snapshot(t, dir), "index.json and blobs as they were")

	p, err = Layout(dir, "fn:latest").Publish(ctx, ociImage(t, base, 1))
	require.NoError(t, err)
	newer := ociImage(t, base, 1)
	_, err = Layout(dir, "fn:latest").Publish(ctx, newer)
	require.NoError(t, err)
	require.NoError(t, p.Undo())
	assertImageIn(t, dir, "fn:latest", newer)
	assert.Equal(t, map[string]int{"fn:latest": 1}, entryNames(t, dir))
	validateLayout(t, dir)
}

// The tarball's Undo removes its own file, not one written over it since.
func TestTarballUndoKeepsLaterFile(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.tar")
	img, err := random.Image(100, 1)
	require.NoError(t, err)
	p, err := Tarball(path, "example.com/fn:1").Publish(ctx, img)
	require.NoError(t, err)
	_, err = Tarball(path, "example.com/fn:2").Publish(ctx, img)
	require.NoError(t, err)
	require.NoError(t, p.Undo())
	assert.FileExists(t, path)
}

// Issue 16 #9: temporaries of ours left by a killed run (a new layout's
// directory, a tarball's temp file, a blob's temp file) are removed by the
// next publish in the same place once stale; fresh ones, locked ones and
// files that are not ours stay.
func TestStaleTemporariesSwept(t *testing.T) {
	ctx := context.Background()
	parent := t.TempDir()
	dir := filepath.Join(parent, "L")
	tb := filepath.Join(parent, "t.tar")
	img := ociImage(t, nil, 1)
	_, err := Layout(dir, "fn:1").Publish(ctx, img)
	require.NoError(t, err)

	old := time.Now().Add(-2 * staleAge)
	mk := func(p string, isDir bool, age time.Time) string {
		if isDir {
			require.NoError(t, os.MkdirAll(filepath.Join(p, "blobs"), 0o755))
		} else {
			require.NoError(t, os.WriteFile(p, []byte("partial"), 0o600))
		}
		require.NoError(t, os.Chtimes(p, age, age))
		return p
	}
	hex := "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
	stale := []string{
		mk(filepath.Join(parent, ".L.tmp-123"), true, old),
		mk(filepath.Join(parent, ".t.tar.tmp-456"), false, old),
		mk(filepath.Join(parent, ".t.tar8817263541"), false, old),
		mk(filepath.Join(dir, "blobs", "sha256", ".tmp-"+hex+"-9"), false, old),
		mk(filepath.Join(dir, "blobs", "sha256", "."+hex+"5550001"), false, old),
	}
	kept := []string{
		mk(filepath.Join(parent, ".L.tmp-fresh"), true, time.Now()),
		mk(filepath.Join(parent, ".t.tar.tmp-fresh"), false, time.Now()),
		mk(filepath.Join(parent, ".L.notes"), false, old),
		mk(filepath.Join(parent, ".t.tar.bak"), false, old),
		mk(filepath.Join(dir, "blobs", "sha256", ".tmp-fresh"), false, time.Now()),
	}
	// A live writer's temporary, however old, is locked: it stays.
	locked := mk(filepath.Join(parent, ".L.tmp-live"), true, old)
	kept = append(kept, locked)
	f, err := os.Open(locked)
	require.NoError(t, err)
	defer f.Close()
	require.NoError(t, unix.Flock(int(f.Fd()), unix.LOCK_EX))

	_, err = Layout(dir, "fn:2").Publish(ctx, ociImage(t, nil, 1))
	require.NoError(t, err)
	_, err = Tarball(tb, "example.com/fn:1").Publish(ctx, img)
	require.NoError(t, err)
	for _, p := range stale {
		assert.NoFileExists(t, p)
		assert.NoDirExists(t, p)
	}
	for _, p := range kept {
		_, err := os.Lstat(p)
		assert.NoError(t, err, "%s kept", p)
	}
	validateLayout(t, dir)
}
