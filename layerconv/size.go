package layerconv

import (
	"archive/zip"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
)

// DeclaredSize is the uncompressed size an input declares, told without
// converting or inflating anything, counted as Options.MaxSize counts it:
// for a zip, the sum of its central directory's uncompressed sizes (every
// entry, litter included; math.MaxInt64 when they overflow); for a
// directory, the sizes of its regular files plus the lengths of its
// symlink targets, __MACOSX/ trees and ._* files left out, links never
// followed. A caller holding several inputs checks their sum against one
// budget before converting any (a conversion checks only its own input).
func DeclaredSize(path string) (int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return 0, fmt.Errorf("layerconv: %w", err)
	}
	if fi.IsDir() {
		return declaredDirSize(path)
	}
	f, err := os.Open(path)
	if err != nil {
		return 0, fmt.Errorf("layerconv: %w", err)
	}
	defer f.Close()
	zr, err := zip.NewReader(f, fi.Size())
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return 0, srcErr(path, fmt.Errorf("%w: %w", ErrCorrupt, err))
	}
	var total int64
	for _, zf := range zr.File {
		if zf.UncompressedSize64 > uint64(math.MaxInt64-total) {
			return math.MaxInt64, nil
		}
		total += int64(zf.UncompressedSize64)
	}
	return total, nil
}

// declaredDirSize walks dir as ConvertDir does (through an os.Root, the
// same litter rule) but only adds up sizes: what ConvertDir would refuse
// is left for it to refuse.
func declaredDirSize(dir string) (int64, error) {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return 0, fmt.Errorf("layerconv: %w", err)
	}
	defer root.Close()
	var total int64
	add := func(n int64) {
		if n > math.MaxInt64-total {
			total = math.MaxInt64
			return
		}
		total += n
	}
	var walk func(rel string) error
	walk = func(rel string) error {
		d, err := root.Open(rel)
		if err != nil {
			return entryErr(dir, rel, err)
		}
		ents, err := d.ReadDir(-1)
		d.Close()
		if err != nil {
			return entryErr(dir, rel, err)
		}
		for _, de := range ents {
			name := de.Name()
			if rel != "." {
				name = rel + "/" + name
			}
			t := de.Type()
			k := kindFile
			if t.IsDir() {
				k = kindDir
			}
			if dropped(name, k) {
				continue
			}
			switch {
			case t.IsDir():
				if err := walk(name); err != nil {
					return err
				}
			case t&fs.ModeSymlink != 0:
				target, err := root.Readlink(name)
				if err != nil {
					return entryErr(dir, name, err)
				}
				add(int64(len(target)))
			case t.IsRegular():
				fi, err := de.Info()
				if err != nil {
					return entryErr(dir, name, err)
				}
				add(fi.Size())
			}
		}
		return nil
	}
	if err := walk("."); err != nil {
		return 0, err
	}
	return total, nil
}
