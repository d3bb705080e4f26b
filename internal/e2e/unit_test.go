package e2e

import (
	"archive/tar"
	"bytes"
	"debug/elf"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// fakeBinaries stands in for busybox and the emulator, so the image
// assembly is checked on machines without them.
func fakeBinaries(t *testing.T) (string, string) {
	dir := t.TempDir()
	bb, rie := filepath.Join(dir, "busybox"), filepath.Join(dir, "rie")
	require.NoError(t, os.WriteFile(bb, []byte("busybox"), 0o755))
	require.NoError(t, os.WriteFile(rie, []byte("rie"), 0o755))
	return bb, rie
}

func TestBuildBase(t *testing.T) {
	bb, rie := fakeBinaries(t)
	for _, tc := range []struct {
		name          string
		opts          BaseOptions
		manifestType  types.MediaType
		wantBootstrap bool
	}{
		{"docker with bootstrap", BaseOptions{BusyboxPath: bb, RIEPath: rie}, types.DockerManifestSchema2, true},
		{"oci without bootstrap", BaseOptions{BusyboxPath: bb, RIEPath: rie, NoBootstrap: true, OCI: true}, types.OCIManifestSchema1, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, err := BuildBase(tc.opts)
			require.NoError(t, err)
			require.NoError(t, validate.Image(img))
			again, err := BuildBase(tc.opts)
			require.NoError(t, err)
			d1, err := img.Digest()
			require.NoError(t, err)
			d2, err := again.Digest()
			require.NoError(t, err)
			assert.Equal(t, d1, d2, "same options, same digest")

			mt, err := img.MediaType()
			require.NoError(t, err)
			assert.Equal(t, tc.manifestType, mt)
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, baseEnv, cf.Config.Env)
			assert.Equal(t, []string{"/lambda-entrypoint.sh"}, cf.Config.Entrypoint)
			assert.Empty(t, cf.Config.Cmd)
			assert.Equal(t, "/var/task", cf.Config.WorkingDir)

			files := map[string]*tar.Header{}
			layers, err := img.Layers()
			require.NoError(t, err)
			for _, l := range layers {
				rc, err := l.Uncompressed()
				require.NoError(t, err)
				tr := tar.NewReader(rc)
				for {
					h, err := tr.Next()
					if errors.Is(err, io.EOF) {
						break
					}
					require.NoError(t, err)
					files[h.Name] = h
				}
				rc.Close()
			}
			require.Contains(t, files, "lambda-entrypoint.sh")
			assert.EqualValues(t, 0o755, files["lambda-entrypoint.sh"].Mode)
			assert.EqualValues(t, 0o755, files["usr/local/bin/aws-lambda-rie"].Mode)
			require.Contains(t, files, "bin/sh")
			assert.Equal(t, "busybox", files["bin/sh"].Linkname)
			assert.EqualValues(t, 0o1777, files["tmp/"].Mode)
			_, hasBootstrap := files["var/runtime/bootstrap"]
			assert.Equal(t, tc.wantBootstrap, hasBootstrap)
		})
	}
}

func TestMinimalELF(t *testing.T) {
	for _, tc := range []struct {
		goarch string
		want   elf.Machine
	}{
		{"amd64", elf.EM_AARCH64},
		{"arm64", elf.EM_X86_64},
	} {
		_, m := OtherArch(tc.goarch)
		f, err := elf.NewFile(bytes.NewReader(MinimalELF(m)))
		require.NoError(t, err)
		assert.Equal(t, tc.want, f.Machine)
		assert.Equal(t, elf.ELFCLASS64, f.Class)
	}
}

func TestRawLayerKeepsModes(t *testing.T) {
	l, err := RawLayer("/var/task", privateModesCode, types.DockerLayer)
	require.NoError(t, err)
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	got := map[string]int64{}
	tr := tar.NewReader(rc)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		got[h.Name] = h.Mode
	}
	assert.Equal(t, map[string]int64{
		"var/": 0o755, "var/task/": 0o755,
		"var/task/app.sh": 0o600, "var/task/bin/": 0o700, "var/task/bin/tool": 0o700,
		"var/task/lib/": 0o700, "var/task/lib/helper.sh": 0o600,
	}, got)
}
