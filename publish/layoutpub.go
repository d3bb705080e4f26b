package publish

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/internal/atomicfile"
)

// Layout adds the image to the OCI image layout at dir under name, the
// org.opencontainers.image.ref.name annotation (a full name such as
// "localhost/lambda-function:latest", so podman and skopeo load it by
// name). Missing parents are created, and removed again by Undo.
func Layout(dir, name string) Publisher {
	return &layoutPublisher{dir: filepath.Clean(dir), name: name}
}

type layoutPublisher struct{ dir, name string }

func (l *layoutPublisher) String() string { return "oci layout " + l.dir }
func (l *layoutPublisher) Path() string   { return l.dir }

func (l *layoutPublisher) Check(inputs []string) error {
	if err := checkLayoutPath(l.dir); err != nil {
		return &PathError{Dest: "oci layout", Path: l.dir, Err: err}
	}
	if err := checkNotInput(l.dir, inputs); err != nil {
		return &PathError{Dest: "oci layout", Path: l.dir, Err: err}
	}
	return nil
}

func (l *layoutPublisher) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	var r rollback
	fail := func(err error) (*Publication, error) {
		_ = r.run()
		return nil, err
	}
	made, err := mkdirParents(filepath.Dir(l.dir))
	if err != nil {
		return nil, &PathError{Dest: "oci layout", Path: l.dir, Err: err}
	}
	r.parents = made
	if err := r.snapshotLayout(l.dir); err != nil {
		return fail(&PathError{Dest: "oci layout", Path: l.dir, Err: err})
	}
	if err := WriteLayout(ctx, l.dir, img, l.name); err != nil {
		return fail(err)
	}
	r.layout.written = true
	return &Publication{Destination: l.String(), undo: r.run}, nil
}

// rollback undoes one layout write: a layout directory it created, the
// entries it added to an existing layout (index.json restored, new files
// removed; files that were there stay), parents it made.
type rollback struct {
	parents []string // created parent directories, outermost first
	layout  *layoutSnapshot
}

type layoutSnapshot struct {
	dir     string
	existed bool
	written bool   // the write succeeded
	index   []byte // index.json before the run; nil if there was none
	before  map[string]bool
}

// snapshotLayout records what an existing layout directory holds before the
// writer adds to it.
func (r *rollback) snapshotLayout(dir string) error {
	s := &layoutSnapshot{dir: dir, before: map[string]bool{}}
	r.layout = s
	if _, err := os.Stat(dir); errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	s.existed = true
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err == nil {
		s.index = b
	} else if !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	return filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		s.before[p] = true
		return nil
	})
}

func (r *rollback) run() error {
	var errs []error
	if s := r.layout; s != nil {
		errs = append(errs, s.restore())
	}
	removeParents(r.parents)
	return errors.Join(errs...)
}

func (s *layoutSnapshot) restore() error {
	if !s.existed {
		// Created by this run. The writer renames a finished layout into
		// place, so a failed write left nothing, and whatever is at dir then
		// is not ours.
		if !s.written {
			return nil
		}
		return os.RemoveAll(s.dir)
	}
	var errs []error
	if s.index != nil {
		errs = append(errs, atomicfile.WriteFile(filepath.Join(s.dir, "index.json"), s.index, 0o644))
	}
	var added []string
	err := filepath.WalkDir(s.dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !s.before[p] {
			added = append(added, p)
			if d.IsDir() {
				return filepath.SkipDir
			}
		}
		return nil
	})
	errs = append(errs, err)
	for _, p := range added {
		errs = append(errs, os.RemoveAll(p))
	}
	return errors.Join(errs...)
}
