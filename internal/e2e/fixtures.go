package e2e

import (
	"bytes"
	"debug/elf"
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

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// ZipEntry is one entry of a generated zip: a name ending in "/" is a
// directory, Mode&fs.ModeSymlink makes Body the link target.
type ZipEntry = basegen.File

// WriteZip writes entries as a Unix-made zip (modes in the external
// attributes, as Info-ZIP on Linux/macOS writes them).
func WriteZip(file string, entries []ZipEntry) error {
	b, err := basegen.Zip(entries)
	if err != nil {
		return fmt.Errorf("zip %s: %w", file, err)
	}
	return os.WriteFile(file, b, 0o644)
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
	return []byte(testutil.ELFHeader(elf.Machine(machine)))
}
