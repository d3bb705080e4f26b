package publish

import (
	"os"
	"path/filepath"
	"strings"
	"time"
)

// staleAge is how old a temporary of ours must be before a later publish
// removes it. Live writers of ours hold a lock on theirs, which a sweep
// also checks; the age protects writers that do not (older versions).
const staleAge = time.Hour

// tempPrefix names the temporaries beside a destination: a new layout's
// directory, and the temp file of a tarball (the naming of the writer used
// before renameio, kept so
// that leftovers of earlier versions are recognized too).
func tempPrefix(dest string) string { return "." + filepath.Base(dest) + ".tmp-" }

// sweepBeside removes stale temporaries of ours beside dest: directories
// and files named .NAME.tmp-* (a new layout, a tarball), and .NAME<digits>
// (renameio's temp files), older than staleAge and not locked by a live
// writer. Failures are ignored: a leftover is untidy, not wrong.
func sweepBeside(dest string) {
	parent, base := filepath.Dir(dest), filepath.Base(dest)
	ents, err := os.ReadDir(parent)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		ours := strings.HasPrefix(n, tempPrefix(dest)) || isDigitsAfter(n, "."+base)
		if !ours {
			continue
		}
		removeIfStale(filepath.Join(parent, n))
	}
}

// sweepBlobTemps removes stale temp files from a layout's blob directory:
// .tmp-* (earlier versions) and .HEX<digits> (renameio). Called under the
// layout's exclusive lock, so no writer of ours is writing one.
func sweepBlobTemps(dir string) {
	bdir := filepath.Join(dir, "blobs", "sha256")
	ents, err := os.ReadDir(bdir)
	if err != nil {
		return
	}
	for _, e := range ents {
		n := e.Name()
		if strings.HasPrefix(n, ".tmp-") || (len(n) > 65 && n[0] == '.' && isHex(n[1:65]) && isDigitsAfter(n, n[:65])) {
			removeIfStale(filepath.Join(bdir, n))
		}
	}
}

func removeIfStale(p string) {
	st, err := os.Lstat(p)
	if err != nil || time.Since(st.ModTime()) < staleAge {
		return
	}
	if !st.Mode().IsRegular() && !st.IsDir() {
		return // not something we create
	}
	if !tryLock(p) {
		return // a live writer holds it
	}
	_ = os.RemoveAll(p)
}

// isDigitsAfter reports whether n is prefix followed by one or more digits.
func isDigitsAfter(n, prefix string) bool {
	rest, ok := strings.CutPrefix(n, prefix)
	if !ok || rest == "" {
		return false
	}
	for _, c := range rest {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

func isHex(s string) bool {
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}
