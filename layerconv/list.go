package layerconv

import (
	"archive/zip"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
)

// InputEntry is one entry of an input as its layer would name it.
type InputEntry struct {
	// Name is clean and relative to the prefix ("node_modules/x/index.js").
	Name string
	Dir  bool
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
		out[i] = InputEntry{Name: e.name, Dir: e.kind == kindDir}
	}
	return out, nil
}

// ReadInputFile returns the content of the regular file name (as List
// names it) of a zip or directory, at most limit bytes: ErrTooLarge
// beyond. A zip entry's CRC-32 is checked.
func ReadInputFile(ctx context.Context, src, name string, limit int64) ([]byte, error) {
	st, err := os.Stat(src)
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	var rc io.ReadCloser
	if st.IsDir() {
		root, err := os.OpenRoot(src)
		if err != nil {
			return nil, fmt.Errorf("layerconv: %w", err)
		}
		defer root.Close()
		fi, err := root.Lstat(name)
		if err != nil {
			return nil, entryErr(src, name, err)
		}
		if !fi.Mode().IsRegular() {
			return nil, entryErr(src, name, errors.New("not a regular file"))
		}
		f, err := root.Open(name)
		if err != nil {
			return nil, entryErr(src, name, err)
		}
		rc = f
	} else {
		zr, err := zip.OpenReader(src)
		if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
			return nil, srcErr(src, fmt.Errorf("%w: %w", ErrCorrupt, err))
		}
		defer zr.Close()
		for _, f := range zr.File {
			creator := f.CreatorVersion >> 8
			windows := creator == creatorFAT || creator == creatorNTFS || creator == creatorVFAT
			if n, _, _, err := normalizeName(f.Name, windows); err != nil || n != name || f.Mode().IsDir() {
				continue
			}
			if rc, err = f.Open(); err != nil {
				return nil, entryErr(src, f.Name, fmt.Errorf("%w: %w", ErrCorrupt, err))
			}
			break
		}
		if rc == nil {
			return nil, entryErr(src, name, os.ErrNotExist)
		}
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(&ctxReader{ctx: ctx, r: rc}, limit+1))
	if err != nil {
		return nil, entryErr(src, name, err)
	}
	if int64(len(data)) > limit {
		return nil, entryErr(src, name, fmt.Errorf("%w: more than %d bytes", ErrTooLarge, limit))
	}
	return data, nil
}
