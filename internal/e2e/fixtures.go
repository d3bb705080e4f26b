package e2e

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// ZipEntry is one entry of a generated zip: a name ending in "/" is a
// directory, Mode&fs.ModeSymlink makes Body the link target.
type ZipEntry struct {
	Name string
	Mode fs.FileMode
	Body string
}

// WriteZip writes entries as a Unix-made zip (modes in the external
// attributes, as Info-ZIP on Linux/macOS writes them).
func WriteZip(file string, entries []ZipEntry) error {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.Name, Method: zip.Deflate, Modified: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
		mode := e.Mode
		if strings.HasSuffix(e.Name, "/") {
			mode |= fs.ModeDir
			h.Method = zip.Store
		}
		h.SetMode(mode)
		w, err := zw.CreateHeader(h)
		if err != nil {
			return fmt.Errorf("zip %s: entry %q: %w", file, e.Name, err)
		}
		if _, err := io.WriteString(w, e.Body); err != nil {
			return fmt.Errorf("zip %s: entry %q: %w", file, e.Name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("zip %s: %w", file, err)
	}
	if err := os.WriteFile(file, buf.Bytes(), 0o644); err != nil {
		return fmt.Errorf("zip %s: %w", file, err)
	}
	return nil
}

// RawLayer puts entries under prefix exactly as given — modes untouched,
// root-owned, parents only where listed plus the prefix itself — the way a
// naive hand-written Dockerfile COPY of an unzipped archive would. It is the
// control that shows what lambda-oci's normalisation saves a function from.
func RawLayer(prefix string, entries []ZipEntry, mediaType types.MediaType) (v1.Layer, error) {
	prefix = strings.Trim(prefix, "/")
	var tes []tarEntry
	parts := strings.Split(prefix, "/")
	for i := range parts {
		tes = append(tes, dir(strings.Join(parts[:i+1], "/")+"/", 0o755))
	}
	for _, e := range entries {
		name := path.Join(prefix, e.Name)
		switch {
		case strings.HasSuffix(e.Name, "/"):
			tes = append(tes, dir(name+"/", int64(e.Mode.Perm())))
		case e.Mode&fs.ModeSymlink != 0:
			tes = append(tes, symlink(name, e.Body))
		default:
			tes = append(tes, file(name, int64(e.Mode.Perm()), []byte(e.Body)))
		}
	}
	b, err := tarLayer(tes, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		return nil, fmt.Errorf("raw layer at /%s: %w", prefix, err)
	}
	return tarball.LayerFromOpener(func() (io.ReadCloser, error) {
		return io.NopCloser(bytes.NewReader(b)), nil
	}, tarball.WithMediaType(mediaType))
}

// ELF machine numbers (elf.EM_X86_64, elf.EM_AARCH64).
const (
	emX86_64  = 62
	emAArch64 = 183
)

// HostMachine is the ELF machine of goarch's binaries.
func HostMachine(goarch string) uint16 {
	if goarch == "arm64" {
		return emAArch64
	}
	return emX86_64
}

// OtherArch returns the Lambda architecture name and ELF machine that are
// NOT the host's, for the architecture-mismatch scenario.
func OtherArch(goarch string) (lambdaArch string, machine uint16) {
	if goarch == "arm64" {
		return "x86_64", emX86_64
	}
	return "arm64", emAArch64
}

// LambdaArch maps GOARCH to Lambda's architecture names.
func LambdaArch(goarch string) (string, error) {
	switch goarch {
	case "amd64":
		return "x86_64", nil
	case "arm64":
		return "arm64", nil
	}
	return "", fmt.Errorf("architecture %q: Lambda runs only x86_64 and arm64", goarch)
}

// MinimalELF is a 64-byte little-endian ELF64 header of a shared object
// for machine: all a header check needs, nothing that runs.
func MinimalELF(machine uint16) []byte {
	var h [64]byte
	copy(h[:], "\x7fELF")
	h[4] = 2 // ELFCLASS64
	h[5] = 1 // ELFDATA2LSB
	h[6] = 1 // EV_CURRENT
	le := binary.LittleEndian
	le.PutUint16(h[16:], 3) // ET_DYN
	le.PutUint16(h[18:], machine)
	le.PutUint32(h[20:], 1)  // e_version
	le.PutUint16(h[52:], 64) // e_ehsize
	le.PutUint16(h[54:], 56) // e_phentsize
	le.PutUint16(h[58:], 64) // e_shentsize
	return h[:]
}
