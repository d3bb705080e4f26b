package layerconv

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleTmp is how old (by mtime) a temporary of ours must be before a
// later run may take it for one a killed process left behind. Age alone
// is not enough (a large conversion or a Result kept open may outlive
// it): a temporary is removed only if no process holds its lock too.
const staleTmp = time.Hour

// Names of our temporaries. Each is the prefix, decimal digits (what
// os.CreateTemp and os.MkdirTemp put for "*") and the suffix; nothing
// else is ever swept.
var (
	// In the cache's tmp directory: a blob being written, a key file
	// being written.
	tmpBlobName = namePattern{"layer-", ".tar.gz.tmp"}
	tmpKeyName  = namePattern{"key-", ".json.tmp"}
	// Beside an output or in the system temporary directory: the
	// directory holding an uncached conversion's blob (only blobs inside),
	// and the file WriteFile renames into place.
	tmpDirName  = namePattern{".layerconv-", ""}
	tmpFileName = namePattern{".layerconv-", ".tmp"}
)

type namePattern struct{ prefix, suffix string }

// glob is the pattern for os.CreateTemp and os.MkdirTemp.
func (p namePattern) glob() string { return p.prefix + "*" + p.suffix }

func (p namePattern) match(name string) bool {
	mid, ok := strings.CutPrefix(name, p.prefix)
	if !ok {
		return false
	}
	if mid, ok = strings.CutSuffix(mid, p.suffix); !ok || mid == "" {
		return false
	}
	return strings.Trim(mid, "0123456789") == ""
}

// sweep removes from dir the stale temporaries of ours that no live
// process holds: files matching one of files, and directories matching
// dirs whose entries all match dirFiles. Failures are ignored (another
// sweeper got there first, or the directory belongs to another user):
// sweeping is housekeeping, never a reason to fail a conversion.
func sweep(dir string, files []namePattern, dirs *namePattern, dirFiles namePattern) {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, e := range ents {
		name := e.Name()
		switch {
		case e.Type().IsRegular() && matchAny(files, name):
			sweepFile(filepath.Join(dir, name))
		case e.IsDir() && dirs != nil && dirs.match(name):
			sweepDir(filepath.Join(dir, name), dirFiles)
		}
	}
}

func matchAny(ps []namePattern, name string) bool {
	for _, p := range ps {
		if p.match(name) {
			return true
		}
	}
	return false
}

// sweepFile removes p if it is still a stale regular file that nobody
// holds. Symlinks are never opened (openNoFollow), so nothing outside dir
// is touched.
func sweepFile(p string) {
	f, ok := lockStale(p, false)
	if !ok {
		return
	}
	defer f.Close()
	os.Remove(p)
}

// sweepDir removes p and the files in it if p is still a stale directory
// that nobody holds and everything in it is a file of ours; anything
// else in it and it stays.
func sweepDir(p string, inside namePattern) {
	f, ok := lockStale(p, true)
	if !ok {
		return
	}
	defer f.Close()
	ents, err := f.ReadDir(-1)
	if err != nil {
		return
	}
	for _, e := range ents {
		if !e.Type().IsRegular() || !inside.match(e.Name()) {
			return
		}
	}
	// Through a Root opened on the locked directory itself, so a swap of
	// p for a link between the checks cannot redirect the removals.
	root, err := os.OpenRoot(p)
	if err != nil {
		return
	}
	defer root.Close()
	if rfi, err := root.Stat("."); err != nil || !sameFileAs(f, rfi) {
		return
	}
	for _, e := range ents {
		root.Remove(e.Name())
	}
	os.Remove(p) // only if empty: a blob created since keeps it
}

// lockStale opens p without following a link, checks its type and age,
// and takes its lock without waiting; ok only if all hold.
func lockStale(p string, dir bool) (*os.File, bool) {
	f, err := openNoFollow(p, dir)
	if err != nil {
		return nil, false
	}
	fi, err := f.Stat()
	if err != nil || fi.IsDir() != dir || !dir && !fi.Mode().IsRegular() || time.Since(fi.ModTime()) <= staleTmp {
		f.Close()
		return nil, false
	}
	if !tryLock(f) {
		f.Close()
		return nil, false
	}
	return f, true
}

func sameFileAs(f *os.File, fi os.FileInfo) bool {
	ffi, err := f.Stat()
	return err == nil && os.SameFile(ffi, fi)
}
