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
	"github.com/google/renameio/v2"
	"golang.org/x/sys/unix"
)

// Tarball writes a `docker load` / `podman load` tarball at path holding
// the image as name (a full tag such as "example.com/fn:latest"), through
// a synced temp file beside it renamed into place. An existing file is
// replaced; Undo removes the file this run wrote (if nobody has replaced
// it since) and the parents it created.
func Tarball(path, name string) Publisher {
	return &tarballPublisher{file: filepath.Clean(path), name: name}
}

type tarballPublisher struct{ file, name string }

func (t *tarballPublisher) String() string { return "tarball " + t.file }

// Path is the tarball's path.
func (t *tarballPublisher) Path() string { return t.file }

func (t *tarballPublisher) fail(err error) error {
	return &PathError{Dest: "tarball", Path: t.file, Err: err}
}

func (t *tarballPublisher) Check(inputs []string) error {
	if t.name != "" {
		if _, err := name.NewTag(t.name); err != nil {
			return t.fail(fmt.Errorf("tag %q: %w", t.name, err))
		}
	}
	if err := CheckFile(t.file); err != nil {
		return t.fail(err)
	}
	if err := checkNotInput(t.file, inputs); err != nil {
		return t.fail(err)
	}
	return nil
}

func (t *tarballPublisher) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	tag, err := name.NewTag(t.name)
	if err != nil {
		return nil, t.fail(fmt.Errorf("tag %q: %w", t.name, err))
	}
	if err := CheckFile(t.file); err != nil {
		return nil, t.fail(err)
	}
	made, err := mkdirParents(filepath.Dir(t.file))
	if err != nil {
		return nil, t.fail(err)
	}
	sweepBeside(t.file)
	st, err := t.write(ctx, tag, img)
	if err != nil {
		removeParents(made)
		return nil, t.fail(err)
	}
	return &Publication{Destination: t.String(), undo: func() error {
		defer removeParents(made)
		// This file, not one another run has written over it since.
		now, err := os.Stat(t.file)
		if err != nil || !os.SameFile(st, now) {
			return nil
		}
		if err := os.Remove(t.file); err != nil && !errors.Is(err, os.ErrNotExist) {
			return t.fail(err)
		}
		return nil
	}}, nil
}

// write writes the tarball and returns what it put at the path.
func (t *tarballPublisher) write(ctx context.Context, tag name.Tag, img v1.Image) (os.FileInfo, error) {
	f, err := renameio.NewPendingFile(t.file, renameio.WithTempDir(filepath.Dir(t.file)), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Cleanup() }()
	// Locked while written, so a sweep in another run knows it is live.
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB); err != nil {
		return nil, fmt.Errorf("locking %s: %w", f.Name(), err)
	}
	if err := tarball.Write(tag, img, f); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return nil, err
	}
	return st, nil
}
