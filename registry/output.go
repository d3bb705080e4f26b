package registry

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
)

// WriteLayout writes img as the only entry of an OCI image layout at dir,
// annotated with org.opencontainers.image.ref.name=refName (the full name,
// e.g. "example.com/fn:latest", so podman and skopeo load it by name).
//
// The layout is built in a temporary directory beside dir and renamed into
// place, so an interrupted write leaves dir as it was. An existing layout
// at dir is replaced; an existing empty directory is fine; any other
// existing file or non-empty directory is refused rather than clobbered.
func WriteLayout(ctx context.Context, dir string, img v1.Image, refName string) error {
	if err := checkReplaceable(dir); err != nil {
		return err
	}
	parent := filepath.Dir(dir)
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	lp, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	var opts []layout.Option
	if refName != "" {
		opts = append(opts, layout.WithAnnotations(map[string]string{refNameAnnotation: refName}))
	}
	if err := lp.AppendImage(img, opts...); err != nil {
		return fmt.Errorf("oci layout %s: writing image: %w", dir, err)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	// MkdirTemp makes 0700; a layout is meant to be shared like any output.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	if err := replaceDir(tmp, dir); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	done = true
	return nil
}

// checkReplaceable refuses to overwrite anything that is not ours to replace.
func checkReplaceable(dir string) error {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	if !st.IsDir() {
		return fmt.Errorf("oci layout %s: exists and is not a directory", dir)
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err == nil {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	if len(ents) > 0 {
		return fmt.Errorf("oci layout %s: directory is not empty and is not an OCI layout; refusing to replace it", dir)
	}
	return nil
}

// replaceDir moves tmp to dir, swapping out an existing dir via a backup
// name so there is no moment when dir holds a half-written layout.
func replaceDir(tmp, dir string) error {
	if _, err := os.Lstat(dir); errors.Is(err, os.ErrNotExist) {
		return os.Rename(tmp, dir)
	}
	old := tmp + ".old"
	if err := os.Rename(dir, old); err != nil {
		return err
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Rename(old, dir)
		return err
	}
	return os.RemoveAll(old)
}

// WriteTarball writes img as a `docker load` / `podman load` tarball named
// tag (e.g. "example.com/fn:latest"), through a temp file renamed into place.
func WriteTarball(ctx context.Context, path string, img v1.Image, tag string) error {
	t, err := name.NewTag(tag)
	if err != nil {
		return fmt.Errorf("tarball %s: tag %q: %w", path, tag, err)
	}
	return writeAtomic(path, 0o644, func(f *os.File) error {
		if err := tarball.Write(t, img, f); err != nil {
			return err
		}
		return ctx.Err()
	})
}

// WriteImageRefs writes refs one per line to path, atomically, for later
// CI steps.
func WriteImageRefs(path string, refs []string) error {
	return writeAtomic(path, 0o644, func(f *os.File) error {
		_, err := f.WriteString(strings.Join(refs, "\n") + "\n")
		return err
	})
}

func writeAtomic(path string, mode os.FileMode, write func(*os.File) error) (rerr error) {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-")
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
	if err := f.Chmod(mode); err != nil {
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
