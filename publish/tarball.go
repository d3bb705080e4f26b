package publish

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/lambda-oci/lambda-oci/internal/atomicfile"
)

// CheckTarballTarget reports whether WriteTarball would accept path: it
// must not be a directory, and its parent must be a directory if it exists.
func CheckTarballTarget(path string) error {
	path = filepath.Clean(path)
	st, err := os.Stat(path)
	if err == nil {
		if st.IsDir() {
			return fmt.Errorf("tarball %s: is a directory; give a file name", path)
		}
		return nil
	}
	if !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("tarball %s: %w", path, err)
	}
	return nil
}

// WriteTarball writes img as a `docker load` / `podman load` tarball named
// tag (e.g. "example.com/fn:latest"), through a temp file renamed into
// place. An existing directory at path is refused untouched.
func WriteTarball(ctx context.Context, path string, img v1.Image, tag string) error {
	path = filepath.Clean(path)
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("tarball %s: tag %q: %w", path, tag, err)
	}
	if err := CheckTarballTarget(path); err != nil {
		return err
	}
	return atomicfile.Write(path, 0o644, func(f *os.File) error {
		if err := tarball.Write(t, img, f); err != nil {
			return err
		}
		return ctx.Err()
	})
}

// Tarball writes a `docker load` / `podman load` tarball at path holding
// the image as name (a full tag such as "example.com/fn:latest"). Missing
// parents are created, and removed again by Undo.
func Tarball(path, name string) Publisher {
	return &tarballPublisher{file: filepath.Clean(path), name: name}
}

type tarballPublisher struct{ file, name string }

func (t *tarballPublisher) String() string { return "tarball " + t.file }
func (t *tarballPublisher) Path() string   { return t.file }

func (t *tarballPublisher) Check(inputs []string) error {
	if err := CheckFile(t.file); err != nil {
		return &PathError{Dest: "tarball", Path: t.file, Err: err}
	}
	if err := checkNotInput(t.file, inputs); err != nil {
		return &PathError{Dest: "tarball", Path: t.file, Err: err}
	}
	return nil
}

func (t *tarballPublisher) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	made, err := mkdirParents(filepath.Dir(t.file))
	if err != nil {
		return nil, &PathError{Dest: "tarball", Path: t.file, Err: err}
	}
	if err := WriteTarball(ctx, t.file, img, t.name); err != nil {
		removeParents(made)
		return nil, err
	}
	// What Undo may remove: this file, not one someone wrote over it since.
	st, err := os.Stat(t.file)
	if err != nil {
		removeParents(made)
		return nil, &PathError{Dest: "tarball", Path: t.file, Err: err}
	}
	return &Publication{Destination: t.String(), undo: func() error {
		defer removeParents(made)
		now, err := os.Stat(t.file)
		if err != nil || !os.SameFile(st, now) {
			return nil
		}
		if err := os.Remove(t.file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		return nil
	}}, nil
}
