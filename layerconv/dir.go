package layerconv

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strings"
	"unicode/utf8"
)

// ConvertDir converts a directory tree (function code, usually). The rules
// are the zip rules: files keep only their executable bits (0644/0755),
// directories are 0755, symlinks are kept as links and never followed, and
// sockets, devices and named pipes are refused. Every read goes through an
// os.Root, so nothing outside dir is read even if the tree changes while it
// is being converted. Directories are never cached.
func ConvertDir(ctx context.Context, dir string, opts Options) (*Result, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	defer root.Close()
	w := &dirWalk{src: dir, root: root, prefix: o.prefix, max: o.maxSize}
	if err := w.walk(ctx, "."); err != nil {
		return nil, err
	}
	es, err := buildTree(dir, w.es)
	if err != nil {
		return nil, err
	}
	if !o.noPycRewrite {
		markPyc(es, func(e *entry) pycSource { return dirPycSource(w.infos[e.src]) })
	}
	if o.sel != nil {
		es = o.sel.apply(es, &w.st)
	}
	src := &dirSource{path: dir, root: root, infos: w.infos, buf: make([]byte, 256<<10)}
	r, err := finish(ctx, o, nil, es, src, &w.st, 0)
	if err != nil {
		return nil, err
	}
	// A directory cannot be replaced by a file, but its identity is
	// recorded all the same, so WriteFile's refusal has no exception.
	if fi, err := root.Stat("."); err == nil {
		r.src, r.srcInfo = dir, fi
	}
	return r, nil
}

type dirWalk struct {
	src    string
	root   *os.Root
	prefix string
	max    int64
	total  int64
	es     []entry
	infos  []fs.FileInfo // by entry.src: what Lstat saw, to catch swaps
	st     stats
}

func (w *dirWalk) walk(ctx context.Context, rel string) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	d, err := w.root.Open(rel)
	if err != nil {
		return srcErr(w.src, err)
	}
	ents, err := d.ReadDir(-1)
	d.Close()
	if err != nil {
		return srcErr(w.src, err)
	}
	for _, de := range ents {
		name := de.Name()
		if rel != "." {
			name = rel + "/" + name
		}
		if !utf8.ValidString(name) {
			return entryErr(w.src, name, fmt.Errorf("%w: not valid UTF-8", ErrInvalidName))
		}
		if isWhiteout(de.Name()) {
			return entryErr(w.src, name, fmt.Errorf("%w: %q", ErrWhiteout, de.Name()))
		}
		fi, err := w.root.Lstat(name)
		if err != nil {
			return entryErr(w.src, name, err)
		}
		e := entry{name: name, raw: name, src: len(w.infos)}
		m := fi.Mode()
		switch {
		case m.IsDir():
			e.kind, e.mode = kindDir, 0o755
			e.normalized = m.Perm() != 0o755
		case m&fs.ModeSymlink != 0:
			t, err := w.root.Readlink(name)
			if err != nil {
				return entryErr(w.src, name, err)
			}
			if t == "" || len(t) > symlinkMax || strings.IndexByte(t, 0) >= 0 || !utf8.ValidString(t) {
				return entryErr(w.src, name, fmt.Errorf("%w: target %q", ErrInvalidSymlink, t))
			}
			e.kind, e.mode, e.target, e.size = kindSymlink, 0o777, t, int64(len(t))
		case m.IsRegular():
			e.kind, e.mode, e.size = kindFile, 0o644, fi.Size()
			if m.Perm()&0o111 != 0 {
				e.mode = 0o755
			}
			e.normalized = m.Perm() != fs.FileMode(e.mode) || m&(fs.ModeSetuid|fs.ModeSetgid|fs.ModeSticky) != 0
		default:
			return entryErr(w.src, name, fmt.Errorf("%w: %s", ErrUnsupportedType, describeMode(m)))
		}
		if dropped(name, e.kind) {
			if e.kind == kindDir {
				name += "/"
			}
			w.st.dropped = append(w.st.dropped, name)
			continue
		}
		if err := checkLength(w.prefix, name); err != nil {
			return entryErr(w.src, name, err)
		}
		// Checked before any content is read, as for zips.
		if w.total += e.size; w.total > w.max {
			return srcErr(w.src, fmt.Errorf("%w: files add up to more than %d bytes (at %q)", ErrTooLarge, w.max, name))
		}
		if e.normalized {
			w.st.normalized++
		}
		w.es = append(w.es, e)
		w.infos = append(w.infos, fi)
		if e.kind == kindDir {
			if err := w.walk(ctx, name); err != nil {
				return err
			}
		}
	}
	return nil
}

func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSocket != 0:
		return "socket"
	case m&fs.ModeNamedPipe != 0:
		return "named pipe"
	case m&fs.ModeCharDevice != 0:
		return "character device"
	case m&fs.ModeDevice != 0:
		return "block device"
	}
	return "mode " + m.String()
}

type dirSource struct {
	path  string
	root  *os.Root
	infos []fs.FileInfo
	buf   []byte
}

var errChanged = errors.New("changed while being converted")

func (s *dirSource) copy(ctx context.Context, w io.Writer, e *entry) error {
	f, err := s.root.Open(e.name)
	if err != nil {
		return entryErr(s.path, e.raw, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return entryErr(s.path, e.raw, err)
	}
	if !os.SameFile(fi, s.infos[e.src]) {
		return entryErr(s.path, e.raw, errChanged)
	}
	if _, err := copyExact(ctx, w, f, e.size, s.buf); err != nil {
		return entryErr(s.path, e.raw, fmt.Errorf("%w: %w", errChanged, err))
	}
	return nil
}

func (s *dirSource) target(e *entry) (string, error) { return e.target, nil }
