package layerconv

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// ConvertFile converts src and writes the layer to out, all or nothing:
// out naming a directory or the input itself is refused before any work;
// missing parent directories are created, and removed again if the
// conversion fails; an uncached layer is written beside out and linked into
// place (written once), a cached one copied out of the cache. On any
// failure, cancellation included, out is left as it was.
func ConvertFile(ctx context.Context, src, out string, opts Options) (_ *Result, err error) {
	out = filepath.Clean(out)
	if fi, err := os.Stat(out); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("layerconv: output %s is a directory: name the .tar.gz file to write", out)
	}
	// WriteFile would refuse too, but only after the work.
	if err := CheckOutput(src, out); err != nil {
		return nil, err
	}
	created, err := mkdirParents(filepath.Dir(out))
	if err != nil {
		return nil, fmt.Errorf("layerconv: output %s: %w", out, err)
	}
	defer func() {
		if err != nil {
			for _, d := range created {
				_ = os.Remove(d) // only if empty: something else may use it now
			}
		}
	}()
	if opts.TempDir == "" {
		opts.TempDir = filepath.Dir(out)
	}
	res, err := Convert(ctx, src, opts)
	if err != nil {
		return nil, err
	}
	if err := res.WriteFile(ctx, out); err != nil {
		_ = res.Close()
		return nil, err
	}
	return res, nil
}

// mkdirParents creates dir and its missing ancestors, returning the ones it
// created, deepest first.
func mkdirParents(dir string) ([]string, error) {
	var missing []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !errors.Is(err, fs.ErrNotExist) {
			break
		}
		missing = append(missing, d)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return missing, nil
}
