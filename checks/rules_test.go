package checks

import (
	"archive/tar"
	"debug/elf"
	"errors"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/lambda"
)

func digestOf(c byte) v1.Hash {
	h := make([]byte, 64)
	for i := range h {
		h[i] = c
	}
	return v1.Hash{Algorithm: "sha256", Hex: string(h)}
}

// goodImage is a minimal image every rule accepts: an OCI manifest, a
// python base layer with the runtime, and an added code layer with the
// handler.
func goodImage() *Image {
	base := listing(dir("var"), dir("var/lang"), dir("var/lang/bin"), file("var/lang/bin/python3.12"),
		dir("var/runtime"), Entry{Path: "var/runtime/bootstrap", Type: tar.TypeReg, Mode: 0o755},
		Entry{Path: "lambda-entrypoint.sh", Type: tar.TypeReg, Mode: 0o755}, dir("opt"))
	base.DiffID, base.UncompressedSize = digestOf('1'), 1000
	code := listing(dir("var"), dir("var/task"), file("var/task/app.py"))
	code.DiffID, code.UncompressedSize = digestOf('2'), 100
	return &Image{
		MediaType: types.OCIManifestSchema1, ManifestSize: 800,
		Config: &v1.ConfigFile{OS: "linux", Architecture: "amd64",
			Config: v1.Config{Entrypoint: []string{"/lambda-entrypoint.sh"}, Cmd: []string{"app.handler"}, Env: []string{"LAMBDA_TASK_ROOT=/var/task"}},
			RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{digestOf('1'), digestOf('2')}}},
		Layers: []Layer{
			{Digest: digestOf('a'), MediaType: types.OCILayer, Size: 500, DiffID: digestOf('1'), Origin: Base, Listing: base, Kind: "base"},
			{Digest: digestOf('b'), MediaType: types.OCILayer, Size: 50, DiffID: digestOf('2'), Origin: Added, Listing: code, Kind: "code"},
		},
	}
}

func TestRules(t *testing.T) {
	for _, tc := range []struct {
		name     string
		mutate   func(img *Image, cfg *Config)
		rule     string
		severity Severity
		layer    int
		path     string
		detail   any // a typed detail errors.As must find
	}{
		{"index", func(img *Image, _ *Config) { img.MediaType = types.OCIImageIndex }, RuleMediaType, Refuse, 0, "", nil},
		{"mixed layer types", func(img *Image, _ *Config) { img.Layers[1].MediaType = types.DockerLayer }, RuleMediaType, Refuse, 2, "", nil},
		{"uncompressed layer type", func(img *Image, _ *Config) { img.Layers[0].MediaType = types.OCIUncompressedLayer }, RuleMediaType, Refuse, 1, "", nil},
		{"zstd labelled gzip", func(img *Image, _ *Config) { img.Layers[0].Listing.Compression = Zstd }, RuleZstdLayer, Refuse, 1, "", nil},
		{"plain tar labelled gzip", func(img *Image, _ *Config) { img.Layers[1].Listing.Compression = Plain }, RuleUncompressedLayer, Refuse, 2, "", nil},
		{"wrong diff_id", func(img *Image, _ *Config) { img.Config.RootFS.DiffIDs[0] = digestOf('9') }, RuleDiffIDs, Refuse, 1, "", &DigestMismatchError{}},
		{"extra diff_id", func(img *Image, _ *Config) {
			img.Config.RootFS.DiffIDs = append(img.Config.RootFS.DiffIDs, digestOf('3'))
		}, RuleDiffIDs, Refuse, 0, "", nil},
		{"missing parent", func(img *Image, _ *Config) {
			img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries, file("var/task/lib/x.py"))
		}, RuleParentDirs, Refuse, 2, "/var/task/lib", nil},
		{"hard link", func(img *Image, _ *Config) {
			img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries, Entry{Path: "var/task/b.py", Type: tar.TypeLink, Link: "var/task/app.py"})
		}, RuleHardLinks, Refuse, 2, "/var/task/b.py", nil},
		{"unreadable file", func(img *Image, _ *Config) { img.Layers[1].Listing.Entries[2].Mode = 0o600 }, RulePermissions, Refuse, 2, "/var/task/app.py", nil},
		{"unsearchable directory", func(img *Image, _ *Config) { img.Layers[1].Listing.Entries[1].Mode = 0o700 }, RulePermissions, Refuse, 2, "/var/task/", nil},
		{"too large", func(_ *Image, cfg *Config) { cfg.MaxSize = 1099 }, RuleSize, Refuse, 0, "", &SizeError{}},
		{"large manifest", func(img *Image, _ *Config) { img.ManifestSize = lambda.ManifestSizeAdvice + 1 }, RuleManifestSize, Warn, 0, "", nil},
		{"handler missing", func(_ *Image, cfg *Config) { cfg.Handler = "other.handler" }, RuleHandler, Refuse, 0, "", &lambda.HandlerError{}},
		{"handler syntax", func(_ *Image, cfg *Config) { cfg.Handler = "nodot" }, RuleHandler, Refuse, 0, "", &lambda.HandlerError{}},
		{"custom runtime without bootstrap", func(img *Image, cfg *Config) {
			cfg.Family = lambda.Provided
			img.Layers[0].Listing.Entries[5].Path = "var/runtime/other"
		}, RuleHandler, Refuse, 0, lambda.RuntimeBootstrap, &lambda.HandlerError{}},
		{"foreign native code added", func(img *Image, _ *Config) {
			img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries, elfFile("var/task/x.so", elf.EM_AARCH64))
		}, RuleArchitecture, Refuse, 0, "/var/task/x.so", &ArchMismatchError{}},
		{"foreign native code allowed", func(img *Image, cfg *Config) {
			cfg.AllowArchMismatch = true
			img.Layers[1].Listing.Entries = append(img.Layers[1].Listing.Entries, elfFile("var/task/x.so", elf.EM_AARCH64))
		}, RuleArchitecture, Warn, 0, "/var/task/x.so", &ArchMismatchError{}},
		{"foreign native code in the base", func(img *Image, _ *Config) {
			img.Layers[0].Listing.Entries = append(img.Layers[0].Listing.Entries, elfFile("opt/x.so", elf.EM_AARCH64))
		}, RuleArchitecture, Warn, 0, "/opt/x.so", &ArchMismatchError{}},
		{"another platform", func(_ *Image, cfg *Config) { cfg.Arch = lambda.ARM64 }, RulePlatform, Refuse, 0, "", nil},
		{"no entrypoint", func(img *Image, _ *Config) { img.Config.Config.Entrypoint = nil }, RuleEntrypoint, Warn, 0, "", nil},
		{"neither entrypoint nor cmd", func(img *Image, _ *Config) {
			img.Config.Config.Entrypoint, img.Config.Config.Cmd = nil, nil
		}, RuleNoEntrypoint, Refuse, 0, "", nil},
		{"relative entrypoint", func(img *Image, _ *Config) { img.Config.Config.Entrypoint = []string{"run.sh"} }, RuleEntrypoint, Warn, 0, "", nil},
		{"symlink entrypoint", func(img *Image, _ *Config) {
			img.Layers[0].Listing.Entries[6] = link("lambda-entrypoint.sh", "usr/bin/entry")
		}, RuleEntrypoint, Warn, 0, "", nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			img, cfg := goodImage(), Config{}
			require.Empty(t, Run(img, cfg), "the unmutated image passes every rule")
			tc.mutate(img, &cfg)
			fs := Run(img, cfg)
			require.Len(t, fs, 1, "%v", fs)
			f := fs[0]
			assert.Equal(t, tc.rule, f.Rule)
			assert.Equal(t, tc.severity, f.Severity)
			assert.Equal(t, tc.layer, f.Layer)
			if tc.path != "" {
				assert.Equal(t, tc.path, f.Path)
			}
			assert.NotEmpty(t, f.Message)
			err := Errors(fs)
			if tc.severity == Warn {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			switch want := tc.detail.(type) {
			case *SizeError:
				assert.True(t, errors.As(err, &want))
			case *DigestMismatchError:
				assert.True(t, errors.As(err, &want))
			case *lambda.HandlerError:
				assert.True(t, errors.As(err, &want))
			case *ArchMismatchError:
				assert.True(t, errors.As(err, &want))
			}
		})
	}
}

// Permissions only matter where the function reads: a base's /etc/shadow
// (0000 in Amazon Linux) is not Lambda's business.
func TestPermissionsOnlyUnderFunctionPaths(t *testing.T) {
	img := goodImage()
	img.Layers[0].Listing.Entries = append(img.Layers[0].Listing.Entries, dir("etc"), Entry{Path: "etc/shadow", Type: tar.TypeReg, Mode: 0})
	assert.Empty(t, Run(img, Config{}))
}

func TestErrorMessage(t *testing.T) {
	img := goodImage()
	img.Layers[0].Listing.Entries = append(img.Layers[0].Listing.Entries, file("usr/lib/x.so"), Entry{Path: "opt/h", Type: tar.TypeLink, Link: "lambda-entrypoint.sh"})
	err := Errors(Run(img, Config{}))
	require.Error(t, err)
	msg := err.Error()
	assert.Contains(t, msg, "2 problems Lambda would refuse")
	assert.Contains(t, msg, "[missing-parent-directory] layer 1 (base sha256:aaaaaaaaaaaa)")
	assert.Contains(t, msg, "/usr/lib")
	assert.Contains(t, msg, "(Lambda: MissingParentDirectory)")
	assert.Contains(t, msg, "[hardlink] layer 1 (base")
	assert.Contains(t, msg, "hint: ")
}
