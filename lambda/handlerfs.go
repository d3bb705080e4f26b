package lambda

import (
	"path"
	"strings"
)

// FileType is the kind of a file in an image.
type FileType uint8

// File types a handler lookup distinguishes.
const (
	Regular FileType = iota + 1
	Dir
	Symlink
	// OtherFile is a device, fifo or hard link entry: nothing a runtime
	// loads code from.
	OtherFile
)

// File is one entry of an image's merged file tree, as a handler lookup
// needs it.
type File struct {
	Type FileType
	// Link is a symlink's target as stored (relative or absolute).
	Link string
	// Mode is the permission bits.
	Mode int64
	// Facts is what was recorded of the file's content while its layer was
	// read (package.json fields, a jar's classes); nil when nothing was.
	Facts *FileFacts
}

// FS is an image's merged file tree, read-only, in the terms a runtime's
// handler lookup needs: existence, type, symlink targets and the small
// content facts recorded while layers were read. Paths are absolute and
// clean. checks.View implements it; tests use a map.
type FS interface {
	// Lstat describes the entry at p without following a final symlink. A
	// directory that only exists as the parent of other entries is
	// reported as a Dir.
	Lstat(p string) (File, bool)
	// ReadDir returns the names directly under the directory p, sorted
	// (nil for anything else).
	ReadDir(p string) []string
	// WalkUnder calls fn for every entry under root (root excluded), in path
	// order, without following symlinks.
	WalkUnder(root string, fn func(p string, f File))
}

// maxSymlinks is how many symlinks one path walk follows before giving up,
// as Linux does (ELOOP after 40).
const maxSymlinks = 40

// stat follows symlinks in every component of p, the way the kernel walks
// a path, and returns the real path and what is there; ok is false when a
// component is missing, is not a directory, or the links loop.
func stat(fsys FS, p string) (real string, f File, ok bool) {
	p = path.Clean("/" + p)
	hops := 0
	cur := "/"
	rest := strings.TrimPrefix(p, "/")
	for rest != "" {
		comp, tail, _ := strings.Cut(rest, "/")
		next := path.Join(cur, comp)
		fi, found := fsys.Lstat(next)
		if !found {
			return "", File{}, false
		}
		if fi.Type == Symlink {
			if hops++; hops > maxSymlinks {
				return "", File{}, false
			}
			target := fi.Link
			if !path.IsAbs(target) {
				target = path.Join(cur, target)
			}
			target = path.Clean(target)
			cur = "/"
			rest = strings.TrimPrefix(path.Join(target, tail), "/")
			continue
		}
		if tail != "" && fi.Type != Dir {
			return "", File{}, false
		}
		cur, rest = next, tail
	}
	if cur == "/" {
		return "/", File{Type: Dir, Mode: 0o755}, true
	}
	fi, _ := fsys.Lstat(cur)
	return cur, fi, true
}

// isFile reports a regular file at p, symlinks followed (Node's
// fs.existsSync for files, Python's os.path.isfile, the JVM opening a file).
func isFile(fsys FS, p string) bool {
	_, f, ok := stat(fsys, p)
	return ok && f.Type == Regular
}

// isDir reports a directory at p, symlinks followed.
func isDir(fsys FS, p string) bool {
	_, f, ok := stat(fsys, p)
	return ok && f.Type == Dir
}

// exists reports anything at p, symlinks followed (Node's fs.existsSync).
func exists(fsys FS, p string) bool {
	_, _, ok := stat(fsys, p)
	return ok
}

// readDir lists a directory through symlinks.
func readDir(fsys FS, p string) []string {
	real, f, ok := stat(fsys, p)
	if !ok || f.Type != Dir {
		return nil
	}
	return fsys.ReadDir(real)
}

// facts returns the recorded content facts of the file at p, symlinks
// followed, and its real path.
func facts(fsys FS, p string) (string, *FileFacts) {
	real, f, ok := stat(fsys, p)
	if !ok || f.Type != Regular {
		return "", nil
	}
	return real, f.Facts
}

// maxNearby bounds how many "found nearby" notes a finding carries.
const maxNearby = 5

// findNearby walks roots for regular files and symlinks whose path
// matches, and returns up to maxNearby notes made by note (which returns ""
// for a path it does not want).
func findNearby(fsys FS, roots []string, note func(p string, f File) string) []string {
	var out []string
	seen := map[string]bool{}
	for _, r := range roots {
		if seen[r] {
			continue
		}
		seen[r] = true
		fsys.WalkUnder(r, func(p string, f File) {
			if len(out) >= maxNearby || f.Type == Dir {
				return
			}
			if n := note(p, f); n != "" && !seen[p] {
				seen[p] = true
				out = append(out, n)
			}
		})
	}
	return out
}
