package fix

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/ctxio"
)

// plan is what one layer needs.
type plan struct {
	index   int // 0-based
	layer   v1.Layer
	listing *checks.Listing
	from    types.MediaType
	mt      types.MediaType // the media type it will have
	// missing are parent directories (relative) without entries, with the
	// mode to give each.
	missing map[string]int64
	// linked are the paths hard links point at: their content is kept
	// for the links that follow.
	linked map[string]bool
	// modeFix reports (and repairs) a header Lambda's user cannot read.
	modeFix    func(rel string, h *tar.Header) bool
	hasModes   bool
	recompress bool
}

func (p *plan) entries() bool { return len(p.missing) > 0 || len(p.linked) > 0 || p.hasModes }
func (p *plan) needed() bool  { return p.entries() || p.recompress || p.mt != p.from }

// fileLayer is a rewritten layer, gzip-compressed in a file.
type fileLayer struct {
	path           string
	digest, diffID v1.Hash
	size           int64
	mt             types.MediaType
}

func (l *fileLayer) Digest() (v1.Hash, error)            { return l.digest, nil }
func (l *fileLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l *fileLayer) Size() (int64, error)                { return l.size, nil }
func (l *fileLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l *fileLayer) Compressed() (io.ReadCloser, error)  { return os.Open(l.path) }

// retyped is a layer whose blob is kept and whose media type changes (a
// foreign layer made distributable, a layer of the other family).
type retyped struct {
	v1.Layer
	mt types.MediaType
}

func (l retyped) MediaType() (types.MediaType, error) { return l.mt, nil }

type hashWriter struct {
	w io.Writer
	h hash.Hash
	n int64
}

func (w *hashWriter) Write(p []byte) (int, error) {
	n, err := w.w.Write(p)
	w.h.Write(p[:n])
	w.n += int64(n)
	return n, err
}

func sum(h hash.Hash) v1.Hash {
	return v1.Hash{Algorithm: "sha256", Hex: hex.EncodeToString(h.Sum(nil))}
}

// rewrite writes the layer's repaired form, gzip-compressed, into dir. A
// layer that only needs compression keeps its tar stream byte for byte
// (and so its diffID); otherwise the entries are rewritten in order with
// only what Lambda needs changed.
func rewrite(ctx context.Context, p *plan, dir string, created time.Time) (*fileLayer, []string, error) {
	rc, _, err := checks.OpenLayer(p.layer)
	if err != nil {
		return nil, nil, err
	}
	defer rc.Close()
	f, err := os.CreateTemp(dir, "layer-*.tar.gz")
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	cw := &hashWriter{w: f, h: sha256.New()}
	// Fixed parameters and no name or mtime in the gzip header: the same
	// layer always compresses to the same bytes.
	zw, err := gzip.NewWriterLevel(cw, gzip.DefaultCompression)
	if err != nil {
		return nil, nil, err
	}
	uw := &hashWriter{w: zw, h: sha256.New()}
	var changes []string
	if !p.entries() {
		if _, err := io.Copy(uw, ctxio.Reader(ctx, rc)); err != nil {
			return nil, nil, err
		}
	} else if changes, err = rewriteEntries(ctx, p, rc, uw, dir, created); err != nil {
		return nil, nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, nil, err
	}
	if err := f.Close(); err != nil {
		return nil, nil, err
	}
	if p.recompress {
		changes = append([]string{fmt.Sprintf("compressed with gzip (was %s)", p.listing.Compression)}, changes...)
	}
	return &fileLayer{path: f.Name(), digest: sum(cw.h), diffID: sum(uw.h), size: cw.n, mt: p.mt}, changes, nil
}

func rewriteEntries(ctx context.Context, p *plan, r io.Reader, w io.Writer, dir string, created time.Time) ([]string, error) {
	tr := tar.NewReader(ctxio.Reader(ctx, r))
	tw := tar.NewWriter(w)
	saved := map[string]string{}
	defer func() {
		for _, s := range saved {
			os.Remove(s)
		}
	}()
	emitted := map[string]bool{}
	var added []string
	links, modes := 0, 0
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("tar: %w", err)
		}
		rel := clean(hdr.Name)
		for _, d := range ancestors(rel) {
			mode, ok := p.missing[d]
			if !ok || emitted[d] {
				continue
			}
			emitted[d] = true
			added = append(added, "/"+d)
			dh := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: created, Format: tar.FormatPAX}
			if err := tw.WriteHeader(dh); err != nil {
				return nil, fmt.Errorf("entry %q: %w", d, err)
			}
		}
		var body io.Reader = tr
		if hdr.Typeflag == tar.TypeLink {
			target := clean(hdr.Linkname)
			sp, ok := saved[target]
			if !ok {
				return nil, fmt.Errorf("hard link %q: its target %q is not a regular file earlier in the layer", rel, target)
			}
			sf, err := os.Open(sp)
			if err != nil {
				return nil, err
			}
			defer sf.Close()
			st, err := sf.Stat()
			if err != nil {
				return nil, err
			}
			hdr.Typeflag, hdr.Linkname, hdr.Size, body = tar.TypeReg, "", st.Size(), sf
			delete(hdr.PAXRecords, "linkpath")
			delete(hdr.PAXRecords, "size")
			links++
			saved[rel] = sp // a link to this link reads the same content
		}
		// The header goes out as it was read, format and times to the
		// nanosecond included: a timestamp-based .pyc valid for its source
		// stays valid (and a stale one stale) only while the source's
		// mtime and size are what they were, so fix needs no .pyc rewrite
		// of its own. Were it ever to normalise times, it would owe the
		// .pyc files layerconv's rule (TestFixKeepsBytecodeValidity).
		if p.modeFix(rel, hdr) {
			modes++
		}
		var tee *os.File
		if hdr.Typeflag == tar.TypeReg && p.linked[rel] && body == io.Reader(tr) {
			if tee, err = os.CreateTemp(dir, "link-*"); err != nil {
				return nil, err
			}
			saved[rel] = tee.Name()
			body = io.TeeReader(tr, tee)
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("entry %q: %w", rel, err)
		}
		if _, err := io.Copy(tw, body); err != nil {
			return nil, fmt.Errorf("entry %q: %w", rel, err)
		}
		if tee != nil {
			if err := tee.Close(); err != nil {
				return nil, err
			}
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	var changes []string
	if len(added) > 0 {
		changes = append(changes, fmt.Sprintf("%d parent director(ies) added: %s", len(added), strings.Join(added, ", ")))
	}
	if links > 0 {
		changes = append(changes, fmt.Sprintf("%d hard link(s) stored as regular files", links))
	}
	if modes > 0 {
		changes = append(changes, fmt.Sprintf("%d mode(s) made readable by everyone (directories searchable)", modes))
	}
	return changes, nil
}

// clean turns a tar name into a clean relative path ("./opt/" -> "opt").
func clean(name string) string { return strings.TrimPrefix(path.Clean("/"+name), "/") }

// ancestors are p's parent directories, outermost first.
func ancestors(p string) []string {
	var out []string
	for d := path.Dir(p); d != "." && d != "/" && d != ""; d = path.Dir(d) {
		out = append([]string{d}, out...)
	}
	return out
}
