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
	"github.com/google/renameio/v2"
	"golang.org/x/sync/errgroup"
	"golang.org/x/sys/unix"

	"github.com/lambda-oci/lambda-oci/internal/ctxio"
)

// refNameAnnotation is how an OCI layout names its entries.
const refNameAnnotation = "org.opencontainers.image.ref.name"

// layoutVersion is the oci-layout file every layout we create carries.
const layoutVersion = `{"imageLayoutVersion":"1.0.0"}`

// layoutBlobJobs bounds concurrent blob writes into a layout: enough to
// overlap compression of several new layers, few enough not to thrash
// the disk.
const layoutBlobJobs = 4

// Layout adds the image to the OCI image layout at dir under name, the
// org.opencontainers.image.ref.name annotation (a full name such as
// "localhost/lambda-function:latest", so podman and skopeo load it by
// name), the way `skopeo copy ... oci:DIR:NAME` does:
//
//   - dir missing: a new layout is built in a temporary directory beside it
//     and renamed into place (never over anything), so an interrupted write
//     leaves nothing.
//   - dir an empty directory: it becomes a layout in place.
//   - dir an existing layout (oci-layout and index.json both parse): the
//     image is added. index.json is rewritten atomically last, with the
//     entry that carries the same name replaced and every other entry
//     kept verbatim.
//   - anything else (a file, a non-empty directory that is not a valid
//     layout) is refused untouched.
//
// Several processes may publish into one layout at once: they coordinate
// through a lock on the layout directory (see lockDir). Undo removes this
// run's index entry (putting back the one it replaced) and the blobs it
// added that no remaining entry references. Missing parents of dir are
// created, and removed again by Undo.
func Layout(dir, name string) Publisher {
	return &layoutPublisher{dir: filepath.Clean(dir), name: name}
}

type layoutPublisher struct{ dir, name string }

func (l *layoutPublisher) String() string { return "oci layout " + l.dir }

// Path is the layout directory.
func (l *layoutPublisher) Path() string { return l.dir }

func (l *layoutPublisher) Check(inputs []string) error {
	if err := checkLayoutPath(l.dir); err != nil {
		return l.fail(err)
	}
	if err := checkNotInput(l.dir, inputs); err != nil {
		return l.fail(err)
	}
	return nil
}

func (l *layoutPublisher) fail(err error) error {
	return &PathError{Dest: "oci layout", Path: l.dir, Err: err}
}

func (l *layoutPublisher) Publish(ctx context.Context, img v1.Image) (*Publication, error) {
	if err := checkLayoutPath(l.dir); err != nil {
		return nil, l.fail(err)
	}
	desc, err := manifestDescriptor(img, l.name)
	if err != nil {
		return nil, l.fail(err)
	}
	made, err := mkdirParents(filepath.Dir(l.dir))
	if err != nil {
		return nil, l.fail(err)
	}
	sweepBeside(l.dir)
	w, err := writeLayout(ctx, l.dir, img, desc)
	if err != nil {
		removeParents(made)
		return nil, l.fail(err)
	}
	return &Publication{Destination: l.String(), undo: func() error {
		defer removeParents(made)
		if err := w.undo(); err != nil {
			return l.fail(err)
		}
		return nil
	}}, nil
}

// layoutWrite is what one publish added to a layout, for its undo.
type layoutWrite struct {
	dir string
	// created: the layout directory is this run's (renamed into place);
	// initialized: this run made an empty directory a layout. Either way
	// undo takes the layout away again once nothing else is in it.
	created, initialized bool
	entry                json.RawMessage   // the index entry written
	replaced             []json.RawMessage // the entries it replaced
	added                map[string]bool   // blobs (hex) this run put in place
}

// errRetry means the layout appeared, vanished or was replaced while we
// waited: start again from its new state.
var errRetry = errors.New("layout changed while waiting for its lock")

// writeLayoutAttempts bounds restarts after errRetry: each needs another
// process to create or remove the layout at just that moment.
const writeLayoutAttempts = 10

func writeLayout(ctx context.Context, dir string, img v1.Image, desc v1.Descriptor) (*layoutWrite, error) {
	for range writeLayoutAttempts {
		var w *layoutWrite
		var err error
		if _, serr := os.Lstat(dir); missing(serr) {
			w, err = createLayout(ctx, dir, img, desc)
		} else {
			w, err = addToLayout(ctx, dir, img, desc)
		}
		if !errors.Is(err, errRetry) {
			return w, err
		}
	}
	return nil, errRetry
}

// createLayout builds a new layout in a temporary directory beside dir and
// renames it into place, never over anything: if dir appeared meanwhile,
// errRetry sends the caller to add to it instead. The temporary directory
// is locked while it is built, so a sweep knows it is alive; once renamed,
// that lock is the new layout's, held until the write is complete.
func createLayout(ctx context.Context, dir string, img v1.Image, desc v1.Descriptor) (*layoutWrite, error) {
	tmp, err := os.MkdirTemp(filepath.Dir(dir), tempPrefix(dir))
	if err != nil {
		return nil, err
	}
	renamed := false
	defer func() {
		if !renamed {
			_ = os.RemoveAll(tmp)
		}
	}()
	lk, err := lockDir(ctx, tmp, unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	if err := initLayout(tmp); err != nil {
		return nil, err
	}
	added, err := writeBlobs(ctx, tmp, img)
	if err != nil {
		return nil, err
	}
	entry, _, err := putIndexEntry(tmp, desc)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	// MkdirTemp makes 0700; a layout is meant to be shared like any output.
	if err := os.Chmod(tmp, 0o755); err != nil {
		return nil, err
	}
	if err := renameNoReplace(tmp, dir); err != nil {
		if errors.Is(err, os.ErrExist) {
			return nil, errRetry
		}
		return nil, err
	}
	renamed = true
	return &layoutWrite{dir: dir, created: true, entry: entry, added: added}, nil
}

// addToLayout adds to the existing layout (or empty directory) at dir.
// Blobs are written under a shared lock, so writers copy in parallel;
// index.json is read, changed and written under the exclusive lock, and
// undos and sweeps take the exclusive lock too, so none of them runs while
// a writer is between writing a blob and naming it in the index.
func addToLayout(ctx context.Context, dir string, img v1.Image, desc v1.Descriptor) (_ *layoutWrite, rerr error) {
	lk, err := lockDir(ctx, dir, unix.LOCK_EX)
	if err != nil {
		return nil, err
	}
	defer lk.unlock()
	st, err := layoutState(dir)
	if err != nil {
		return nil, err
	}
	w := &layoutWrite{dir: dir, added: map[string]bool{}}
	if st == layoutMissing {
		return nil, errRetry
	}
	if st == layoutEmptyDir {
		if err := initLayout(dir); err != nil {
			return nil, err
		}
		w.initialized = true
	}
	defer func() {
		// On failure take back what this call added, under the exclusive
		// lock (a failed relock leaves blobs no entry references: harmless).
		if rerr != nil && !errors.Is(rerr, errRetry) && lk.relock(context.Background(), unix.LOCK_EX) == nil && lk.current(dir) {
			_ = w.removeUnreferenced()
		}
	}()
	sweepBlobTemps(dir)

	if err := lk.relock(ctx, unix.LOCK_SH); err != nil {
		return nil, err
	}
	added, err := writeBlobs(ctx, dir, img)
	for h := range added {
		w.added[h] = true
	}
	if err != nil {
		return nil, err
	}
	// flock converts a shared lock by dropping it first, so an undo may
	// have run in between: it may have removed a blob ours shares, or the
	// whole layout.
	if err := lk.relock(ctx, unix.LOCK_EX); err != nil {
		return nil, err
	}
	if !lk.current(dir) {
		return nil, errRetry
	}
	again, err := writeBlobs(ctx, dir, img)
	for h := range again {
		w.added[h] = true
	}
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	w.entry, w.replaced, err = putIndexEntry(dir, desc)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// undo takes back what w added, under the exclusive lock: its index entry
// if it is still there (the entries it replaced put back in its place),
// then the blobs it added that no remaining entry references. A layout
// this run created or initialized is taken away once nothing is left in it.
func (w *layoutWrite) undo() error {
	lk, err := lockDir(context.Background(), w.dir, unix.LOCK_EX)
	if errors.Is(err, errRetry) {
		return nil // removed or replaced since: nothing of ours is there
	}
	if err != nil {
		return err
	}
	defer lk.unlock()
	if err := removeIndexEntry(w.dir, w.entry, w.replaced); err != nil {
		return err
	}
	if err := w.removeUnreferenced(); err != nil {
		return err
	}
	if w.created || w.initialized {
		return removeEmptyLayout(w.dir, w.created)
	}
	return nil
}

// removeUnreferenced removes the blobs w added that no entry of the index
// references (directly or through manifests and indexes). Call it under
// the exclusive lock.
func (w *layoutWrite) removeUnreferenced() error {
	if len(w.added) == 0 {
		return nil
	}
	refs, err := referencedBlobs(w.dir)
	if err != nil {
		return err
	}
	var errs []error
	for h := range w.added {
		if refs[h] {
			continue
		}
		if err := os.Remove(filepath.Join(w.dir, "blobs", "sha256", h)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// removeEmptyLayout removes a layout holding no entries and nothing but
// the files a new layout has: the directory too if removeDir, else leaving
// it empty as it was found. Anything else in it (a blob, a file of
// someone's) keeps it.
func removeEmptyLayout(dir string, removeDir bool) error {
	_, entries, err := readIndex(dir)
	if err != nil || len(entries) > 0 {
		return err
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "blobs", "sha256")); err != nil || len(ents) > 0 {
		return nil
	}
	if ents, err := os.ReadDir(filepath.Join(dir, "blobs")); err != nil || len(ents) != 1 {
		return nil
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range ents {
		switch e.Name() {
		case "oci-layout", "index.json", "blobs":
		default:
			return nil
		}
	}
	for _, p := range []string{"blobs/sha256", "blobs", "index.json", "oci-layout"} {
		if err := os.Remove(filepath.Join(dir, p)); err != nil {
			return err
		}
	}
	if removeDir {
		return os.Remove(dir)
	}
	return nil
}

// renameNoReplace renames the directory old to new unless new exists
// (even empty: os.Rename would replace an empty directory someone else may
// be about to use). Where the kernel or file system lacks RENAME_NOREPLACE
// it falls back to os.Rename, which still refuses a non-empty directory.
func renameNoReplace(old, new string) error {
	err := unix.Renameat2(unix.AT_FDCWD, old, unix.AT_FDCWD, new, unix.RENAME_NOREPLACE)
	if errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) {
		err = os.Rename(old, new)
	}
	if errors.Is(err, unix.EEXIST) || errors.Is(err, unix.ENOTEMPTY) {
		return fmt.Errorf("rename %s: %w", new, os.ErrExist)
	}
	if err != nil {
		return fmt.Errorf("rename %s %s: %w", old, new, err)
	}
	return nil
}

type layoutKind int

const (
	layoutMissing layoutKind = iota
	layoutEmptyDir
	layoutExisting
)

// layoutState classifies dir, refusing anything that is not ours to write
// into (the same refusals as checkLayoutPath).
func layoutState(dir string) (layoutKind, error) {
	st, err := os.Stat(dir)
	if missing(err) {
		return layoutMissing, nil
	}
	if err != nil {
		return 0, err
	}
	if !st.IsDir() {
		return 0, errNotDir
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return 0, err
	}
	if len(ents) == 0 {
		return layoutEmptyDir, nil
	}
	if _, err := os.Stat(filepath.Join(dir, "oci-layout")); err != nil {
		return 0, errNotLayout
	}
	if err := validLayout(dir); err != nil {
		return 0, fmt.Errorf("directory is not empty and is not an OCI image layout (%w); refusing to write into it", err)
	}
	return layoutExisting, nil
}

var (
	errNotDir    = errors.New("exists and is not a directory: name a new or empty directory, or an OCI layout")
	errNotLayout = errors.New("is a non-empty directory that is not an OCI layout (no oci-layout file): name a new or empty directory, or an OCI layout")
)

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

// writeIndex replaces index.json with top and entries, atomically.
func writeIndex(dir string, top map[string]json.RawMessage, entries []json.RawMessage) error {
	if entries == nil {
		entries = []json.RawMessage{}
	}
	m, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	top["manifests"] = m
	b, err := json.MarshalIndent(top, "", "   ")
	if err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "index.json"), append(b, '\n'))
}

// writeFile replaces path with data through a temp file that is synced
// before the rename, so a crash leaves the old or the new content, never
// an empty file.
func writeFile(path string, data []byte) error {
	return renameio.WriteFile(path, data, 0o644, renameio.WithStaticPermissions(0o644))
}

func initLayout(dir string) error {
	if err := os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755); err != nil {
		return err
	}
	// index.json first: a layout interrupted after this point is valid
	// (and empty), so a rerun can add to it.
	idx := fmt.Sprintf(`{"schemaVersion":2,"mediaType":%q,"manifests":[]}`, types.OCIImageIndex)
	if err := writeFile(filepath.Join(dir, "index.json"), []byte(idx+"\n")); err != nil {
		return err
	}
	return writeFile(filepath.Join(dir, "oci-layout"), []byte(layoutVersion))
}

// manifestDescriptor is img's index entry, named refName.
func manifestDescriptor(img v1.Image, refName string) (v1.Descriptor, error) {
	digest, err := img.Digest()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest digest: %w", err)
	}
	size, err := img.Size()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest size: %w", err)
	}
	mt, err := img.MediaType()
	if err != nil {
		return v1.Descriptor{}, fmt.Errorf("manifest media type: %w", err)
	}
	desc := v1.Descriptor{MediaType: mt, Size: size, Digest: digest}
	if refName != "" {
		desc.Annotations = map[string]string{refNameAnnotation: refName}
	}
	return desc, nil
}

// writeBlobs puts img's blobs into the layout at dir (layers, config,
// manifest: the manifest last, so it never names a missing blob) and
// returns the ones it put in place; blobs already there are kept.
func writeBlobs(ctx context.Context, dir string, img v1.Image) (map[string]bool, error) {
	added := map[string]bool{}
	layers, err := img.Layers()
	if err != nil {
		return added, fmt.Errorf("reading layers: %w", err)
	}
	type done struct {
		hex   string
		wrote bool
	}
	results := make([]done, len(layers))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(layoutBlobJobs)
	for i, l := range layers {
		g.Go(func() error {
			d, err := l.Digest()
			if err != nil {
				return fmt.Errorf("layer digest: %w", err)
			}
			size, err := l.Size()
			if err != nil {
				return fmt.Errorf("layer %s size: %w", d, err)
			}
			wrote, err := writeBlob(gctx, dir, d, size, l.Compressed)
			results[i] = done{d.Hex, wrote}
			if err != nil {
				return fmt.Errorf("layer %s: %w", d, err)
			}
			return nil
		})
	}
	err = g.Wait()
	for _, r := range results {
		if r.wrote {
			added[r.hex] = true
		}
	}
	if err != nil {
		return added, err
	}
	rawCfg, err := img.RawConfigFile()
	if err != nil {
		return added, fmt.Errorf("reading config: %w", err)
	}
	cfgName, err := img.ConfigName()
	if err != nil {
		return added, fmt.Errorf("config digest: %w", err)
	}
	wrote, err := writeBlob(ctx, dir, cfgName, int64(len(rawCfg)), bytesOpener(rawCfg))
	if wrote {
		added[cfgName.Hex] = true
	}
	if err != nil {
		return added, fmt.Errorf("config %s: %w", cfgName, err)
	}
	rawMf, err := img.RawManifest()
	if err != nil {
		return added, fmt.Errorf("reading manifest: %w", err)
	}
	digest, err := img.Digest()
	if err != nil {
		return added, fmt.Errorf("manifest digest: %w", err)
	}
	wrote, err = writeBlob(ctx, dir, digest, int64(len(rawMf)), bytesOpener(rawMf))
	if wrote {
		added[digest.Hex] = true
	}
	if err != nil {
		return added, fmt.Errorf("manifest %s: %w", digest, err)
	}
	return added, nil
}

// putIndexEntry rewrites index.json with desc in place of the entries that
// carry the same name (or appended), every other entry kept byte for byte.
// An unnamed desc replaces nothing; it is only not added twice. It returns
// the entry written and the ones it replaced, for removeIndexEntry.
func putIndexEntry(dir string, desc v1.Descriptor) (json.RawMessage, []json.RawMessage, error) {
	top, entries, err := readIndex(dir)
	if err != nil {
		return nil, nil, err
	}
	raw, err := json.Marshal(desc)
	if err != nil {
		return nil, nil, err
	}
	refName := desc.Annotations[refNameAnnotation]
	out := make([]json.RawMessage, 0, len(entries)+1)
	var replaced []json.RawMessage
	placed := false
	for _, e := range entries {
		var d v1.Descriptor
		if err := json.Unmarshal(e, &d); err != nil {
			return nil, nil, fmt.Errorf("index.json: %w", err)
		}
		n := d.Annotations[refNameAnnotation]
		same := n == refName && (refName != "" || d.Digest == desc.Digest)
		if !same {
			out = append(out, e)
			continue
		}
		replaced = append(replaced, e)
		if !placed {
			out = append(out, raw)
			placed = true
		}
	}
	if !placed {
		out = append(out, raw)
	}
	return raw, replaced, writeIndex(dir, top, out)
}

// removeIndexEntry takes entry out of index.json if it is still there,
// putting back in its place the entries it had replaced (those that are
// not back already). If another run has since replaced entry, that run's
// entry stays and nothing changes.
func removeIndexEntry(dir string, entry json.RawMessage, replaced []json.RawMessage) error {
	top, entries, err := readIndex(dir)
	if err != nil {
		return err
	}
	at := -1
	for i, e := range entries {
		if sameJSON(e, entry) {
			at = i
			break
		}
	}
	if at < 0 {
		return nil
	}
	var back []json.RawMessage
	for _, r := range replaced {
		present := false
		for _, e := range entries {
			present = present || sameJSON(e, r)
		}
		if !present {
			back = append(back, r)
		}
	}
	out := append(append(append([]json.RawMessage{}, entries[:at]...), back...), entries[at+1:]...)
	return writeIndex(dir, top, out)
}

// sameJSON compares two entries whatever their indentation.
func sameJSON(a, b json.RawMessage) bool {
	var ca, cb bytes.Buffer
	if json.Compact(&ca, a) != nil || json.Compact(&cb, b) != nil {
		return false
	}
	return bytes.Equal(ca.Bytes(), cb.Bytes())
}

// referencedBlobs is every blob (hex) the index names, directly or through
// the manifests and indexes it names, as far as they are present and
// parse: what an undo must not remove.
func referencedBlobs(dir string) (map[string]bool, error) {
	_, entries, err := readIndex(dir)
	if err != nil {
		return nil, err
	}
	refs := map[string]bool{}
	var walk func(d v1.Descriptor)
	walk = func(d v1.Descriptor) {
		if d.Digest.Algorithm != "sha256" || refs[d.Digest.Hex] {
			return
		}
		refs[d.Digest.Hex] = true
		if !d.MediaType.IsIndex() && !d.MediaType.IsImage() {
			return
		}
		b, err := os.ReadFile(filepath.Join(dir, "blobs", "sha256", d.Digest.Hex))
		if err != nil {
			return
		}
		var m struct {
			Config    *v1.Descriptor  `json:"config"`
			Layers    []v1.Descriptor `json:"layers"`
			Manifests []v1.Descriptor `json:"manifests"`
		}
		if json.Unmarshal(b, &m) != nil {
			return
		}
		if m.Config != nil {
			refs[m.Config.Digest.Hex] = true
		}
		for _, l := range m.Layers {
			refs[l.Digest.Hex] = true
		}
		for _, c := range m.Manifests {
			walk(c)
		}
	}
	for _, e := range entries {
		var d v1.Descriptor
		if err := json.Unmarshal(e, &d); err == nil {
			walk(d)
		}
	}
	return refs, nil
}

func bytesOpener(b []byte) func() (io.ReadCloser, error) {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}

// writeBlob stores the blob d of the given size under dir/blobs, through a
// synced temp file renamed into place once its content is verified against
// d. It reports whether it put the blob in place: a blob already present
// with the right size is kept (content addressing: it is the same blob).
func writeBlob(ctx context.Context, dir string, d v1.Hash, size int64, open func() (io.ReadCloser, error)) (bool, error) {
	if d.Algorithm != "sha256" {
		return false, fmt.Errorf("unsupported digest algorithm %q", d.Algorithm)
	}
	bdir := filepath.Join(dir, "blobs", d.Algorithm)
	path := filepath.Join(bdir, d.Hex)
	if st, err := os.Stat(path); err == nil && st.Mode().IsRegular() && st.Size() == size {
		return false, nil
	}
	if err := os.MkdirAll(bdir, 0o755); err != nil {
		return false, err
	}
	rc, err := open()
	if err != nil {
		return false, err
	}
	defer rc.Close()
	f, err := renameio.NewPendingFile(path, renameio.WithTempDir(bdir), renameio.WithStaticPermissions(0o644))
	if err != nil {
		return false, err
	}
	defer func() { _ = f.Cleanup() }()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(f, h), ctxio.Reader(ctx, rc))
	if err != nil {
		return false, err
	}
	if got := hex.EncodeToString(h.Sum(nil)); got != d.Hex || n != size {
		return false, fmt.Errorf("content does not match its descriptor: got sha256:%s (%d bytes), want %s (%d bytes)", got, n, d, size)
	}
	if err := f.CloseAtomicallyReplace(); err != nil {
		return false, err
	}
	return true, nil
}
