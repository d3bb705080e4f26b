package publish

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/internal/atomicfile"
)

// refNameAnnotation is how an OCI layout names its entries.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// layoutVersion is the oci-layout file every layout we create carries.
const layoutVersion = `{"imageLayoutVersion":"1.0.0"}`

// layoutBlobJobs bounds concurrent blob writes into a layout: enough to
// overlap compression of several new layers, few enough not to thrash
// the disk.
const layoutBlobJobs = 4

// WriteLayout adds img to the OCI image layout at dir under the name
// refName (the org.opencontainers.image.ref.name annotation, carrying the
// full name such as "example.com/fn:latest" so podman and skopeo load it by
// name), the way `skopeo copy ... oci:DIR:NAME` does:
//
//   - dir missing: a new layout is built in a temporary directory beside it
//     and renamed into place, so an interrupted write leaves nothing.
//   - dir an empty directory: it becomes a layout in place.
//   - dir an existing layout (oci-layout and index.json both parse): the
//     image is added. Blobs are content-addressed and written through temp
//     files renamed into place (a blob already present with the right size
//     is kept: that is the point of content addressing, and it is what lets
//     an image built from a base in the same layout reuse the base's
//     blobs). index.json is rewritten atomically last, with the entry that
//     carries the same name replaced and every other entry kept verbatim. An
//     interrupted write leaves at most unreferenced blobs.
//   - anything else (a file, a non-empty directory that is not a valid
//     layout) is refused untouched.
//
// Nothing is ever deleted. The parent of dir must exist. Concurrent writers
// to the same layout are not coordinated (the last index.json wins).
func WriteLayout(ctx context.Context, dir string, img v1.Image, refName string) error {
	dir = filepath.Clean(dir)
	st, err := layoutState(dir)
	if err != nil {
		return err
	}
	switch st {
	case layoutExisting:
		return addToLayout(ctx, dir, img, refName)
	case layoutEmptyDir:
		if err := initLayout(dir); err != nil {
			return fmt.Errorf("oci layout %s: %w", dir, err)
		}
		return addToLayout(ctx, dir, img, refName)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(dir), "."+filepath.Base(dir)+".tmp-")
	if err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	done := false
	defer func() {
		if !done {
			_ = os.RemoveAll(tmp)
		}
	}()
	if err := initLayout(tmp); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	if err := addImage(ctx, tmp, img, refName); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	// MkdirTemp makes 0700; a layout is meant to be shared like any output.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	// os.Rename refuses an existing directory, so a dir created meanwhile
	// is not replaced.
	if err := os.Rename(tmp, dir); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	done = true
	return nil
}

// CheckLayoutTarget reports whether WriteLayout would accept dir (missing,
// an empty directory or a valid OCI layout) without writing anything, so a
// command can check all its outputs before producing any.
func CheckLayoutTarget(dir string) error {
	_, err := layoutState(filepath.Clean(dir))
	return err
}

type layoutKind int

const (
	layoutMissing layoutKind = iota
	layoutEmptyDir
	layoutExisting
)

// layoutState classifies dir, refusing anything that is not ours to write
// into. Both files are parsed: a stray file named oci-layout does not make
// a directory a layout.
func layoutState(dir string) (layoutKind, error) {
	st, err := os.Stat(dir)
	if errors.Is(err, os.ErrNotExist) {
		return layoutMissing, nil
	}
	if err != nil {
		return 0, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	if !st.IsDir() {
		return 0, fmt.Errorf("oci layout %s: exists and is not a directory", dir)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, fmt.Errorf("oci layout %s: %w", dir, err)
	}
	if len(ents) == 0 {
		return layoutEmptyDir, nil
	}
	if err := validLayout(dir); err != nil {
		return 0, fmt.Errorf("oci layout %s: directory is not empty and is not an OCI image layout (%w); refusing to write into it", dir, err)
	}
	return layoutExisting, nil
}

func validLayout(dir string) error {
	b, err := os.ReadFile(filepath.Join(dir, "oci-layout"))
	if err != nil {
		return fmt.Errorf("oci-layout: %w", err)
	}
	var ol struct {
		ImageLayoutVersion string `json:"imageLayoutVersion"`
	}
	if err := json.Unmarshal(b, &ol); err != nil {
		return fmt.Errorf("oci-layout: %w", err)
	}
	if ol.ImageLayoutVersion == "" {
		return errors.New("oci-layout: no imageLayoutVersion")
	}
	_, _, err = readIndex(dir)
	return err
}

// readIndex parses index.json into its raw top-level fields (kept as they
// are when it is rewritten) and its entries.
func readIndex(dir string) (map[string]json.RawMessage, []json.RawMessage, error) {
	b, err := os.ReadFile(filepath.Join(dir, "index.json"))
	if err != nil {
		return nil, nil, fmt.Errorf("index.json: %w", err)
	}
	var top map[string]json.RawMessage
	if err := json.Unmarshal(b, &top); err != nil {
		return nil, nil, fmt.Errorf("index.json: %w", err)
	}
	var sv int
	if err := json.Unmarshal(top["schemaVersion"], &sv); err != nil || sv != 2 {
		return nil, nil, fmt.Errorf("index.json: schemaVersion is %s, want 2", top["schemaVersion"])
	}
	var entries []json.RawMessage
	if m, ok := top["manifests"]; ok && string(m) != "null" {
		if err := json.Unmarshal(m, &entries); err != nil {
			return nil, nil, fmt.Errorf("index.json: manifests: %w", err)
		}
	}
	for i, e := range entries {
		var d v1.Descriptor
		if err := json.Unmarshal(e, &d); err != nil {
			return nil, nil, fmt.Errorf("index.json: manifests[%d]: %w", i, err)
		}
	}
	return top, entries, nil
}

func initLayout(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	// index.json first: a layout interrupted after this point is valid
	// (and empty), so a rerun can add to it.
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[]}`, types.OCIImageIndex)
	if err := atomicfile.WriteFile(filepath.Join(dir, "index.json"), []byte(idx+"\n"), 0o644); err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "oci-layout"), []byte(layoutVersion), 0o644)
}

func addToLayout(ctx context.Context, dir string, img v1.Image, refName string) error {
	if err := addImage(ctx, dir, img, refName); err != nil {
		return fmt.Errorf("oci layout %s: %w", dir, err)
	}
	return nil
}

// addImage writes img's blobs into the layout at dir, then its index entry.
func addImage(ctx context.Context, dir string, img v1.Image, refName string) error {
	layers, err := img.Layers()
	if err != nil {
		return fmt.Errorf("reading layers: %w", err)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(layoutBlobJobs)
	for _, l := range layers {
		g.Go(func() error {
			d, err := l.Digest()
			if err != nil {
				return fmt.Errorf("layer digest: %w", err)
			}
			size, err := l.Size()
			if err != nil {
				return fmt.Errorf("layer %s size: %w", d, err)
			}
			if err := writeBlob(gctx, dir, d, size, l.Compressed); err != nil {
				return fmt.Errorf("layer %s: %w", d, err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return fmt.Errorf("config digest: %w", err)
	}
	if err := writeBlob(ctx, dir, cfgName, int64(len(rawCfg)), bytesOpener(rawCfg)); err != nil {
		return fmt.Errorf("config %s: %w", cfgName, err)
	}
	rawMf, err := img.RawManifest()
	if err != nil {
		return fmt.Errorf("reading manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return fmt.Errorf("manifest digest: %w", err)
	}
	if err := writeBlob(ctx, dir, digest, int64(len(rawMf)), bytesOpener(rawMf)); err != nil {
		return fmt.Errorf("manifest %s: %w", digest, err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return fmt.Errorf("manifest media type: %w", err)
	}
	desc := v1.Descriptor{MediaType: mt, Size: int64(len(rawMf)), Digest: digest}
	if refName != "" {
		desc.Annotations = map[string]string{refNameAnnotation: refName}
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	return putIndexEntry(dir, desc)
}

// putIndexEntry rewrites index.json with desc in place of the entry that
// carries the same name (or appended), every other entry kept byte for
// byte. An unnamed desc replaces nothing; it is only not added twice.
func putIndexEntry(dir string, desc v1.Descriptor) error {
	top, entries, err := readIndex(dir)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(desc)
	if err != nil {
		return err
	}
	refName := desc.Annotations[refNameAnnotation]
	out := make([]json.RawMessage, 0, len(entries)+1)
	placed := false
	for _, e := range entries {
		var d v1.Descriptor
		if err := json.Unmarshal(e, &d); err != nil {
			return fmt.Errorf("index.json: %w", err)
		}
		n := d.Annotations[refNameAnnotation]
		same := n == refName && (refName != "" || d.Digest == desc.Digest)
		if !same {
			out = append(out, e)
			continue
		}
		if !placed {
			out = append(out, raw)
			placed = true
		}
	}
	if !placed {
		out = append(out, raw)
	}
	m, err := json.Marshal(out)
	if err != nil {
		return err
	}
	top["manifests"] = m
	b, err := json.MarshalIndent(top, "", "   ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "index.json"), append(b, '\n'), 0o644)
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// writeBlob stores the blob d of the given size under dir/blobs, through a
// temp file renamed into place once its content is verified against d.
func writeBlob(ctx context.Context, dir string, d v1.Hash, size int64, open func() (io.ReadCloser, error)) (rerr error) {
	if d.Algorithm != "sha256" {
		return fmt.Errorf("unsupported digest algorithm %q", d.Algorithm)
	}
	bdir := filepath.Join(dir, "blobs", d.Algorithm)
	path := filepath.Join(bdir, d.Hex)
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == size {
		return nil
	}
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return err
	}
	rc, err := open()
	if err != nil {
		return err
	}
	defer rc.Close()
	f, err := os.CreateTemp(bdir, ".tmp-"+d.Hex+"-")
	if err != nil {
		return err
	}
	defer func() {
		if rerr != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxReader{ctx, rc})
	if err != nil {
		return err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex || n != size {
		return fmt.Errorf("content does not match its descriptor: got sha256:%s (%d bytes), want %s (%d bytes)", got, n, d, size)
	}
	if err := f.Chmod(0o644); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}

// ctxReader stops a long blob copy when the command is interrupted.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
