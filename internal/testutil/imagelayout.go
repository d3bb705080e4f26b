package testutil

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/klauspost/compress/gzip"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
)

// TarEntry is one entry of a tar made by Python's tarfile (PyTar): an
// independent producer, so fixtures do not share our writer's habits.
type TarEntry struct {
	Name string `json:"name"`
	// Type is "file" (default), "dir", "symlink" or "hardlink".
	Type string `json:"type,omitempty"`
	Mode int64  `json:"mode"`
	Body string `json:"-"`
	Link string `json:"link,omitempty"`
}

const pyTar = `
import base64, io, json, sys, tarfile
entries = json.load(sys.stdin)
out = io.BytesIO()
with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tf:
    for e in entries:
        ti = tarfile.TarInfo(e["name"])
        ti.mode, ti.mtime, ti.uid, ti.gid = e["mode"], 0, 0, 0
        t = e.get("type", "file")
        data = None
        if t == "dir":
            ti.type = tarfile.DIRTYPE
        elif t == "symlink":
            ti.type, ti.linkname = tarfile.SYMTYPE, e["link"]
        elif t == "hardlink":
            ti.type, ti.linkname = tarfile.LNKTYPE, e["link"]
        else:
            data = base64.b64decode(e.get("data") or "")
            ti.size = len(data)
        tf.addfile(ti, io.BytesIO(data) if data is not None else None)
sys.stdout.buffer.write(out.getvalue())
`

// PyTar returns an uncompressed tar of the entries, in order, written by
// python3's tarfile (PAX format, mtime 0, uid/gid 0). Bodies are bytes
// (any byte survives), so ELF headers can be written.
func PyTar(t testing.TB, entries ...TarEntry) []byte {
	t.Helper()
	type wire struct {
		TarEntry
		Data []byte `json:"data"` // base64: bodies are bytes, not text
	}
	ws := make([]wire, len(entries))
	for i, e := range entries {
		ws[i] = wire{e, []byte(e.Body)}
	}
	in, err := json.Marshal(ws)
	require.NoError(t, err)
	cmd := exec.Command("python3", "-c", pyTar)
	cmd.Stdin = bytes.NewReader(in)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "python3 tarfile: %s", stderr.String())
	return out
}

// LayoutLayer is one layer of a hand-written image: a tar, how its blob is
// compressed ("gzip", "zstd", "none") and the media type its descriptor
// claims.
type LayoutLayer struct {
	Tar         []byte
	Compression string
	MediaType   types.MediaType
}

// LayoutImage is a single-platform image written blob by blob, with exactly
// the media types given (no library normalises them).
type LayoutImage struct {
	ManifestType types.MediaType
	ConfigType   types.MediaType
	OS, Arch     string
	Config       v1.Config
	Layers       []LayoutLayer
}

// LayoutWriter writes blobs into an OCI image layout directory.
type LayoutWriter struct {
	t   testing.TB
	Dir string
}

// NewLayout starts an OCI image layout in dir.
func NewLayout(t testing.TB, dir string) *LayoutWriter {
	require.NoError(t, os.MkdirAll(filepath.Join(dir, "blobs", "sha256"), 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "oci-layout"), []byte(`{"imageLayoutVersion":"1.0.0"}`), 0o644))
	return &LayoutWriter{t: t, Dir: dir}
}

// Blob stores b and returns its descriptor.
func (w *LayoutWriter) Blob(mt types.MediaType, b []byte) v1.Descriptor {
	h := sha256.Sum256(b)
	d := v1.Descriptor{MediaType: mt, Size: int64(len(b)), Digest: v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h[:])}}
	require.NoError(w.t, os.WriteFile(filepath.Join(w.Dir, "blobs", "sha256", d.Digest.Hex), b, 0o644))
	return d
}

// JSON stores v as a blob.
func (w *LayoutWriter) JSON(mt types.MediaType, v any) v1.Descriptor {
	b, err := json.Marshal(v)
	require.NoError(w.t, err)
	return w.Blob(mt, b)
}

// Image stores an image's layers, config and manifest; the descriptor
// carries the platform.
func (w *LayoutWriter) Image(img LayoutImage) v1.Descriptor {
	cfg := v1.ConfigFile{OS: img.OS, Architecture: img.Arch, Config: img.Config, RootFS: v1.RootFS{Type: "layers"}}
	var layers []v1.Descriptor
	for _, l := range img.Layers {
		h := sha256.Sum256(l.Tar)
		cfg.RootFS.DiffIDs = append(cfg.RootFS.DiffIDs, v1.Hash{Algorithm: "sha256", Hex: fmt.Sprintf("%x", h[:])})
		layers = append(layers, w.Blob(l.MediaType, compress(w.t, l.Tar, l.Compression)))
	}
	ct := img.ConfigType
	if ct == "" {
		ct = types.OCIConfigJSON
		if img.ManifestType == types.DockerManifestSchema2 {
			ct = types.DockerConfigJSON
		}
	}
	m := v1.Manifest{SchemaVersion: 2, MediaType: img.ManifestType, Config: w.JSON(ct, cfg), Layers: layers}
	d := w.JSON(img.ManifestType, m)
	d.Platform = &v1.Platform{OS: img.OS, Architecture: img.Arch}
	return d
}

// Attestation stores a buildx-shaped in-toto attestation manifest for the
// image subject, and its descriptor as buildx lists it in the index.
func (w *LayoutWriter) Attestation(subject v1.Descriptor) v1.Descriptor {
	stmt := w.Blob("application/vnd.in-toto+json", []byte(`{"_type":"https://in-toto.io/Statement/v0.1","predicateType":"https://slsa.dev/provenance/v0.2"}`))
	stmt.Annotations = map[string]string{"in-toto.io/predicate-type": "https://slsa.dev/provenance/v0.2"}
	m := v1.Manifest{SchemaVersion: 2, MediaType: types.OCIManifestSchema1,
		Config: w.JSON(types.OCIConfigJSON, map[string]any{"architecture": "unknown", "os": "unknown", "config": map[string]any{}, "rootfs": map[string]any{"type": "layers", "diff_ids": []string{}}}),
		Layers: []v1.Descriptor{stmt}}
	d := w.JSON(types.OCIManifestSchema1, m)
	d.Platform = &v1.Platform{OS: "unknown", Architecture: "unknown"}
	d.Annotations = map[string]string{"vnd.docker.reference.type": "attestation-manifest", "vnd.docker.reference.digest": subject.Digest.String()}
	return d
}

// Index stores an index (or Docker manifest list) of the descriptors.
func (w *LayoutWriter) Index(mt types.MediaType, ds ...v1.Descriptor) v1.Descriptor {
	return w.JSON(mt, v1.IndexManifest{SchemaVersion: 2, MediaType: mt, Manifests: ds})
}

// Name writes index.json with d named name (org.opencontainers.image.ref.name).
func (w *LayoutWriter) Name(name string, d v1.Descriptor) {
	d.Annotations = map[string]string{"org.opencontainers.image.ref.name": name}
	b, err := json.Marshal(v1.IndexManifest{SchemaVersion: 2, MediaType: types.OCIImageIndex, Manifests: []v1.Descriptor{d}})
	require.NoError(w.t, err)
	require.NoError(w.t, os.WriteFile(filepath.Join(w.Dir, "index.json"), b, 0o644))
}

func compress(t testing.TB, b []byte, how string) []byte {
	var out bytes.Buffer
	switch how {
	case "none":
		return b
	case "zstd":
		zw, err := zstd.NewWriter(&out)
		require.NoError(t, err)
		_, err = zw.Write(b)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
	default:
		zw := gzip.NewWriter(&out)
		_, err := zw.Write(b)
		require.NoError(t, err)
		require.NoError(t, zw.Close())
	}
	return out.Bytes()
}
