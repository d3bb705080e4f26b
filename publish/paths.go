package publish

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
)

// CheckFile refuses a file output that cannot be written: the path is a
// directory or not a regular file, or a parent is not a directory.
// Missing parents are fine: publishers create them.
func CheckFile(path string) error {
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return errors.New("is a directory: name a file to write")
	case err == nil && !st.Mode().IsRegular():
		return fmt.Errorf("exists and is not a regular file (%s)", st.Mode().Type())
	case err != nil && !missing(err):
		return err
	}
	return checkParent(path)
}

// checkLayoutPath refuses a layout directory the layout writer would
// refuse: a file, or a non-empty directory that is not a valid OCI layout.
func checkLayoutPath(p string) error {
	st, err := layoutState(p)
	if err != nil {
		return err
	}
	if st == layoutMissing {
		return checkParent(p)
	}
	return nil
}

// missing reports a path that does not exist, including one below a file
// (ENOTDIR): the parent check then names the file.
func missing(err error) bool {
	return errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR)
}

// checkParent requires the nearest existing ancestor of p to be a
// directory, so the parents can be made.
func checkParent(p string) error {
	for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
		st, err := os.Stat(dir)
		if err == nil {
			if !st.IsDir() {
				return fmt.Errorf("parent %s is not a directory", dir)
			}
			return nil
		}
		if !missing(err) {
			return fmt.Errorf("parent %s: %w", dir, err)
		}
		if next := filepath.Dir(dir); next == dir {
			return nil
		}
	}
}

// mkdirParents creates dir and its missing ancestors, returning the ones
// it created, outermost first, for removeParents.
func mkdirParents(dir string) ([]string, error) {
	var made []string
	for d := dir; ; d = filepath.Dir(d) {
		if _, err := os.Lstat(d); err == nil || !missing(err) {
			break
		}
		made = append([]string{d}, made...)
		if filepath.Dir(d) == d {
			break
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	return made, nil
}

// removeParents removes the directories mkdirParents made, innermost
// first; one that something else now uses is not empty and stays.
func removeParents(made []string) {
	for i := len(made) - 1; i >= 0; i-- {
		_ = os.Remove(made[i])
	}
}
