package layerconv

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/lambda-oci/lambda-oci/internal/ctxio"
)

// finish writes the layer (into the cache when there is one, else into a
// temporary directory Result.Close removes) and builds the Result.
func finish(ctx context.Context, o resolved, c *cache, es []entry, src source, st *stats, concurrency int) (*Result, error) {
	if c != nil {
		dir, err := c.tmpDir()
		if err != nil {
			return nil, fmt.Errorf("layerconv: %w", err)
		}
		b, err := writeLayer(ctx, dir, true, o, es, src, st, concurrency)
		if err != nil {
			return nil, err
		}
		return c.store(b, st)
	}
	tempDir, held, err := makeTempDir(o.tempDir)
	if err != nil {
		return nil, fmt.Errorf("layerconv: %w", err)
	}
	b, err := writeLayer(ctx, tempDir, false, o, es, src, st, concurrency)
	if err != nil {
		os.RemoveAll(tempDir)
		held.Close()
		return nil, err
	}
	r := newResult(b, st, tempDir)
	r.tempHeld = held
	return r, nil
}

// makeTempDir sweeps parent (the system temporary directory when empty)
// and makes a hidden directory there for one blob (hidden: with
// Options.TempDir it sits beside the user's output). The directory's
// lock is held through the returned file until Result.Close, so no
// sweeper takes it for a leftover however long the Result is in use.
func makeTempDir(parent string) (string, *os.File, error) {
	base := parent
	if base == "" {
		base = os.TempDir()
	}
	sweepBeside(base)
	d, err := os.MkdirTemp(base, tmpDirName.glob())
	if err != nil {
		return "", nil, err
	}
	held, err := os.Open(d)
	if err != nil {
		os.Remove(d)
		return "", nil, err
	}
	lock(held)
	return d, held, nil
}

// sweepBeside removes what killed runs left in dir: blob directories of
// uncached conversions and WriteFile's temporaries.
func sweepBeside(dir string) {
	sweep(dir, []namePattern{tmpFileName}, &tmpDirName, tmpBlobName)
}

func newResult(b blob, st *stats, tempDir string) *Result {
	dropped := st.dropped
	if dropped == nil {
		dropped = []string{}
	}
	return &Result{
		Layer:            &blobLayer{path: b.path, digest: b.digest, diffID: b.diffID, size: b.size},
		Digest:           b.digest,
		DiffID:           b.diffID,
		Size:             b.size,
		UncompressedSize: b.uncompSize,
		Files:            st.files,
		Dirs:             st.dirs,
		Symlinks:         st.symlinks,
		Dropped:          dropped,
		Normalized:       st.normalized,
		PycRewritten:     st.pycRewritten,
		Entries:          st.index,
		blobPath:         b.path,
		tempDir:          tempDir,
	}
}

// CheckOutput refuses an output path that is the input src itself: the
// same file by device and inode, so a ../ detour, a hard link or a symlink
// to it count too. Writing there would replace the input with its own
// layer. Result.WriteFile refuses it anyway; calling CheckOutput first
// refuses it before anything is converted. A missing output or input is
// no error here (writing or converting reports what is wrong with it).
func CheckOutput(src, out string) error {
	sfi, err := os.Stat(src)
	if err != nil {
		return nil
	}
	if err := notInput(src, sfi, out); err != nil {
		return fmt.Errorf("layerconv: write %s: %w", out, err)
	}
	return nil
}

// notInput refuses out when it is the file src (whose identity is sfi).
func notInput(src string, sfi os.FileInfo, out string) error {
	ofi, err := os.Stat(out)
	if err != nil || !os.SameFile(sfi, ofi) {
		return nil
	}
	return fmt.Errorf("%w %s (the same file)", ErrOutputIsInput, src)
}

// WriteFile writes the .tar.gz to path atomically: a temporary file beside
// it, renamed into place once complete; nothing is left behind on failure.
// A path that is the converted input itself is refused (ErrOutputIsInput,
// see CheckOutput).
// The blob of an uncached conversion is hard-linked rather than copied
// when path is on the same filesystem (see Options.TempDir); a cached
// blob is copied, so the output never shares a file with the cache.
func (r *Result) WriteFile(ctx context.Context, path string) (err error) {
	defer func() {
		if err != nil {
			err = fmt.Errorf("layerconv: write %s: %w", path, err)
		}
	}()
	if err := ctx.Err(); err != nil {
		return err
	}
	if r.srcInfo != nil {
		if err := notInput(r.src, r.srcInfo, path); err != nil {
			return err
		}
	}
	dir := filepath.Dir(path)
	if r.tempDir == "" || filepath.Dir(r.tempDir) != dir {
		sweepBeside(dir) // else Convert just did
	}
	// Named like the temporaries sweepBeside removes, so a kill -9 in
	// the middle leaves nothing that stays forever.
	tmp := filepath.Join(dir, tmpFileName.prefix+strconv.FormatUint(uint64(rand.Uint32()), 10)+tmpFileName.suffix)
	// The link shares the blob's mtime: made current first, it is not
	// taken for a stale leftover (and unlocked) in the instant before
	// the rename, however long ago the blob was written.
	now := time.Now()
	if r.tempDir != "" && os.Chmod(r.blobPath, 0o644) == nil && os.Chtimes(r.blobPath, now, now) == nil && os.Link(r.blobPath, tmp) == nil {
		if err := os.Rename(tmp, path); err != nil {
			os.Remove(tmp)
			return err
		}
		return nil
	}
	// Another filesystem, or a cached blob: copy.
	in, err := os.Open(r.blobPath)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.CreateTemp(dir, tmpFileName.glob())
	if err != nil {
		return err
	}
	lock(out)
	tmp = out.Name()
	defer func() {
		if err != nil {
			out.Close()
			os.Remove(tmp)
		}
	}()
	if _, err := io.Copy(out, ctxio.Reader(ctx, in)); err != nil {
		return err
	}
	// The umask may have narrowed the mode OpenFile was given.
	if err := out.Chmod(0o644); err != nil {
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// Close removes the temporary blob of an uncached conversion; cached blobs
// stay in the cache. The Layer must not be read after Close. Safe to call
// more than once.
func (r *Result) Close() error {
	if r.tempDir == "" {
		return nil
	}
	dir := r.tempDir
	r.tempDir = ""
	err := os.RemoveAll(dir)
	// Unlocked only once removed: a sweeper must not see it unheld first.
	r.tempHeld.Close()
	if err != nil {
		return fmt.Errorf("layerconv: %w", err)
	}
	return nil
}

// blobLayer is a v1.Layer backed by the finished blob file; its identity
// comes from the conversion pass, never from re-reading.
type blobLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
}

var _ v1.Layer = (*blobLayer)(nil)

func (l *blobLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *blobLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *blobLayer) Size() (int64, error)                { return l.size, nil }
func (l *blobLayer) MediaType() (types.MediaType, error) { return types.OCILayer, nil }
func (l *blobLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

func (l *blobLayer) Uncompressed() (io.ReadCloser, error) {
	f, err := os.Open(l.path)
	if err != nil {
		return nil, err
	}
	zr, err := gzip.NewReader(f)
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("layerconv: %s: %w", l.path, err)
	}
	return &gunzipReader{Reader: zr, f: f}, nil
}

type gunzipReader struct {
	*gzip.Reader
	f *os.File
}

func (g *gunzipReader) Close() error {
	err := g.Reader.Close()
	if ferr := g.f.Close(); err == nil {
		err = ferr
	}
	return err
}
