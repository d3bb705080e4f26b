// Package atomicfile replaces files all at once: content goes to a temporary
// file beside the target, which is renamed into place only when complete, so
// a reader (or a crash, or Ctrl-C) never sees a half-written file.
package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
)

// Write creates path with mode perm from what write puts into the file.
// On any error the temporary file is removed and path is left as it was.
func Write(path string, perm os.FileMode, write func(*os.File) error) (rerr error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	defer func() {
		if rerr != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	if err := write(f); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	// CreateTemp makes 0600 files; set the mode explicitly, not via umask.
	if err := f.Chmod(perm); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	if err := os.Rename(f.Name(), path); err != nil {
		return fmt.Errorf("writing %s: %w", path, err)
	}
	return nil
}

// WriteFile is Write for content already in memory.
func WriteFile(path string, data []byte, perm os.FileMode) error {
	return Write(path, perm, func(f *os.File) error {
		_, err := f.Write(data)
		return err
	})
}
