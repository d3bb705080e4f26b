package layerconv

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/lambda-oci/lambda-oci/internal/ctxio"
)

// InputEntry is one entry of an input as its layer would name it.
type InputEntry struct {
	// Name is clean and relative to the prefix ("node_modules/x/index.js").
	Name string
	Dir  bool
	// Symlink is set for a symbolic link to Target.
	Symlink bool
	Target  string
	// Mode is the permission bits Convert writes.
	Mode int64
}

// List names the entries of a zip or directory as Convert would write
// them with opts (normalised, sorted by path, every parent directory
// present, litter left out), reading no content: what a caller needs to
// decide a Selection. It validates names as Convert does and refuses
// what Convert would refuse on names alone, with the same errors.
func List(ctx context.Context, src string, opts Options) ([]InputEntry, error) {
	o, err := opts.resolve()
	if err != nil {
		return nil, err
	}
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	var es []entry
	if st.IsDir() {
		root, err := os.OpenRoot(src)
		if err != nil {
			return nil, fmt.Errorf("layerconv: %w", err)
		}
		defer root.Close()
		w := &dirWalk{src: src, root: root, prefix: o.prefix, max: o.maxSize}
		if err := w.walk(ctx, "."); err != nil {
			return nil, err
		}
		es = w.es
	} else {
		f, err := os.Open(src)
		if err != nil {
			return nil, fmt.Errorf("layerconv: %w", err)
		}
		defer f.Close()
		zr, err := zip.NewReader(f, st.Size())
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return nil, srcErr(src, fmt.Errorf("%w: %w", ErrCorrupt, err))
		}
		var s stats
		if es, err = scanZip(src, f, zr, st.Size(), o, &s); err != nil {
			return nil, err
		}
	}
	es, err = buildTree(src, es)
	if err != nil {
		return nil, err
	}
	out := make([]InputEntry, len(es))
	for i, e := range es {
		out[i] = InputEntry{Name: e.name, Dir: e.kind == kindDir, Symlink: e.kind == kindSymlink, Target: e.target, Mode: e.mode}
	}
	return out, nil
}

// ReadInputFiles returns the contents of the regular files names (as
// List names them) of a zip or directory, each at most limit bytes
// (ErrTooLarge beyond), in one pass over a zip's directory. A name the
// input does not hold is missing from the map. Zip entries' CRC-32 are
// checked.
func ReadInputFiles(ctx context.Context, src string, names []string, limit int64) (map[string][]byte, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	want := map[string]bool{}
	for _, n := range names {
		want[n] = true
	}
	out := map[string][]byte{}
	if st.IsDir() {
		root, err := os.OpenRoot(src)
		if err != nil {
			return nil, fmt.Errorf("layerconv: %w", err)
		}
		defer root.Close()
		for n := range want {
			fi, err := root.Lstat(n)
			if errors.Is(err, os.ErrNotExist) || err == nil && !fi.Mode().IsRegular() {
				continue
			}
			if err != nil {
				return nil, entryErr(src, n, err)
			}
			f, err := root.Open(n)
			if err != nil {
				return nil, entryErr(src, n, err)
			}
			data, err := readLimited(ctx, f, limit)
			f.Close()
			if err != nil {
				return nil, entryErr(src, n, err)
			}
			out[n] = data
		}
		return out, nil
	}
	zr, err := zip.OpenReader(src)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, srcErr(src, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	defer zr.Close()
	for _, f := range zr.File {
		creator := f.CreatorVersion >> 8
		windows := creator == creatorFAT || creator == creatorNTFS || creator == creatorVFAT
		n, _, _, err := normalizeName(f.Name, windows)
		if err != nil || !want[n] || f.Mode().IsDir() || strings.HasSuffix(f.Name, "/") {
			continue
		}
		rc, err := f.Open()
		if err != nil {
			return nil, entryErr(src, f.Name, fmt.Errorf("%w: %w", ErrCorrupt, err))
		}
		data, err := readLimited(ctx, rc, limit)
		rc.Close()
		if err != nil {
			return nil, entryErr(src, f.Name, err)
		}
		out[n] = data
	}
	return out, nil
}

func readLimited(ctx context.Context, r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(ctxio.Reader(ctx, r), limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit)
	}
	return data, nil
}
