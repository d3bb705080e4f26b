package layerconv

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/internal/ctxio"
)

// The cache lives in <CacheDir>/layerconv:
//
//	keys/<key>.json          what a conversion produced (cacheMeta)
//	blobs/sha256/<hex>       the layer blobs, by digest
//	tmp/                     conversions in progress (swept: see sweep)
//
// Blobs are renamed into place before their key, and both renames are
// atomic, so a reader sees either nothing or a complete entry, and two
// processes converting the same input just both rename identical files.
type cache struct {
	root string
	key  string
}

// metaVersion changes whenever cacheMeta gains something a hit must
// return: an entry of another version is a miss, converted again and
// overwritten (version 1 added Entries, version 2 their modes, version 3
// PycRewritten, version 4 the entries' content facts, version 5 regular
// files' mtimes and sizes and .pyc headers; unversioned entries predate
// it).
const metaVersion = 5

type cacheMeta struct {
	Version          int      `json:"version"`
	Digest           v1.Hash  `json:"digest"`
	DiffID           v1.Hash  `json:"diffID"`
	Size             int64    `json:"size"`
	UncompressedSize int64    `json:"uncompressedSize"`
	Files            int      `json:"files"`
	Dirs             int      `json:"dirs"`
	Symlinks         int      `json:"symlinks"`
	Dropped          []string `json:"dropped"`
	Normalized       int      `json:"normalized"`
	PycRewritten     int      `json:"pycRewritten"`
	Entries          []Entry  `json:"entries"`
}

func newCache(o resolved, inputSHA256 []byte) *cache {
	h := sha256.New()
	for _, s := range []string{
		ConverterVersion(),
		"prefix=" + o.prefix,
		"mtime=" + strconv.FormatInt(o.modTime.Unix(), 10),
		"max=" + strconv.FormatInt(o.maxSize, 10),
		"pyc-rewrite=" + strconv.FormatBool(!o.noPycRewrite),
		"zip-sha256=" + hex.EncodeToString(inputSHA256),
	} {
		h.Write([]byte(s))
		h.Write([]byte{0})
	}
	if o.sel != nil {
		// Only when set, so the keys of whole conversions stay as they were.
		h.Write([]byte("select=" + o.sel.Key()))
		h.Write([]byte{0})
	}
	return &cache{root: filepath.Join(o.cacheDir, "layerconv"), key: hex.EncodeToString(h.Sum(nil))}
}

func (c *cache) keyPath() string { return filepath.Join(c.root, "keys", c.key+".json") }

func (c *cache) blobPath(d v1.Hash) string {
	return filepath.Join(c.root, "blobs", d.Algorithm, d.Hex)
}

// lookup returns the cached result, or false for a miss (an unreadable or
// inconsistent entry is a miss: the conversion then overwrites it). The
// blob is hashed once (compressed, as stored: no inflating) and must match
// its digest, so a damaged cache file is converted again rather than
// shipped under a digest it does not have.
func (c *cache) lookup(ctx context.Context) (*Result, bool) {
	data, err := os.ReadFile(c.keyPath())
	if err != nil {
		return nil, false
	}
	var m cacheMeta
	if err := json.Unmarshal(data, &m); err != nil || m.Version != metaVersion || m.Digest.Algorithm != "sha256" || len(m.Digest.Hex) != 64 {
		return nil, false
	}
	if _, err := hex.DecodeString(m.Digest.Hex); err != nil {
		return nil, false
	}
	if len(m.Entries) != m.Files+m.Dirs+m.Symlinks {
		return nil, false
	}
	bp := c.blobPath(m.Digest)
	if !blobIntact(ctx, bp, m.Digest, m.Size) {
		return nil, false
	}
	r := newResult(blob{path: bp, digest: m.Digest, diffID: m.DiffID, size: m.Size, uncompSize: m.UncompressedSize},
		&stats{files: m.Files, dirs: m.Dirs, symlinks: m.Symlinks, dropped: m.Dropped, normalized: m.Normalized, pycRewritten: m.PycRewritten, index: m.Entries}, "")
	r.CacheHit = true
	return r, true
}

// blobIntact reports whether the file at p has the given size and sha256.
func blobIntact(ctx context.Context, p string, d v1.Hash, size int64) bool {
	f, err := os.Open(p)
	if err != nil {
		return false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() || fi.Size() != size {
		return false
	}
	sum, err := hashFile(ctx, f)
	return err == nil && hex.EncodeToString(sum) == d.Hex
}

func (c *cache) tmpDir() (string, error) {
	d := filepath.Join(c.root, "tmp")
	if err := os.MkdirAll(d, 0o755); err != nil {
		return "", err
	}
	return d, nil
}

// sweep removes what killed conversions left in the cache's tmp directory
// (see sweep); run when the cache is opened, hit or miss.
func (c *cache) sweep() {
	sweep(filepath.Join(c.root, "tmp"), []namePattern{tmpBlobName, tmpKeyName}, nil, namePattern{})
}

// store moves a finished blob into the cache and records its key.
func (c *cache) store(b blob, st *stats) (_ *Result, err error) {
	tmpBlob := b.path
	defer func() {
		if err != nil {
			os.Remove(tmpBlob) // fails harmlessly once renamed
			err = fmt.Errorf("layerconv: cache %s: %w", c.root, err)
		}
	}()
	bp := c.blobPath(b.digest)
	if err := os.MkdirAll(filepath.Dir(bp), 0o755); err != nil {
		return nil, err
	}
	if err := os.MkdirAll(filepath.Dir(c.keyPath()), 0o755); err != nil {
		return nil, err
	}
	if err := os.Rename(b.path, bp); err != nil {
		return nil, err
	}
	b.path = bp
	r := newResult(b, st, "")
	data, err := json.Marshal(cacheMeta{
		Version: metaVersion, Digest: r.Digest, DiffID: r.DiffID, Size: r.Size, UncompressedSize: r.UncompressedSize,
		Files: r.Files, Dirs: r.Dirs, Symlinks: r.Symlinks, Dropped: r.Dropped, Normalized: r.Normalized,
		PycRewritten: r.PycRewritten, Entries: r.Entries,
	})
	if err != nil {
		return nil, err
	}
	tmp, err := os.CreateTemp(filepath.Join(c.root, "tmp"), tmpKeyName.glob())
	if err != nil {
		return nil, err
	}
	_, werr := tmp.Write(data)
	serr := tmp.Sync()
	cerr := tmp.Close()
	if err := errors.Join(werr, serr, cerr); err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	if err := os.Rename(tmp.Name(), c.keyPath()); err != nil {
		os.Remove(tmp.Name())
		return nil, err
	}
	return r, nil
}

// hashFile returns the sha256 of f's content and rewinds it.
func hashFile(ctx context.Context, f *os.File) ([]byte, error) {
	h := sha256.New()
	if _, err := io.Copy(h, ctxio.Reader(ctx, f)); err != nil {
		return nil, err
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return h.Sum(nil), nil
}
