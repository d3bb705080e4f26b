package fix

import (
	"context"
	"debug/elf"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/registry"
)

type te = testutil.TarEntry

// entrypointLayer is a layer every fixture shares: a start script.
func entrypointLayer(t *testing.T) []byte {
	return testutil.PyTar(t, te{Name: "lambda-entrypoint.sh", Mode: 0o755, Body: "#!/bin/sh\nexec \"$@\"\n"})
}

func goodCode(t *testing.T) []byte {
	return testutil.PyTar(t, te{Name: "var", Type: "dir", Mode: 0o755}, te{Name: "var/task", Type: "dir", Mode: 0o755},
		te{Name: "var/task/app.py", Mode: 0o644, Body: "def handler(e, c):\n    return 'ok'\n"})
}

var lambdaConfig = v1.Config{Entrypoint: []string{"/lambda-entrypoint.sh"}, Cmd: []string{"app.handler"},
	Env: []string{"PATH=/usr/bin:/bin", "LAMBDA_TASK_ROOT=/var/task"}, WorkingDir: "/var/task", Labels: map[string]string{"team": "x"}}

func ociImage(arch string, code []byte, comp string, mt types.MediaType, t *testing.T) testutil.LayoutImage {
	return testutil.LayoutImage{ManifestType: types.OCIManifestSchema1, OS: "linux", Arch: arch, Config: lambdaConfig,
		Layers: []testutil.LayoutLayer{{Tar: entrypointLayer(t), MediaType: types.OCILayer}, {Tar: code, Compression: comp, MediaType: mt}}}
}

func open(t *testing.T, ref string) *registry.Base {
	b, err := registry.FetchBase(context.Background(), ref, registry.Options{})
	require.NoError(t, err)
	return b
}

func TestFix(t *testing.T) {
	aarch64SO := testutil.PyTar(t, te{Name: "var", Type: "dir", Mode: 0o755}, te{Name: "var/task", Type: "dir", Mode: 0o755},
		te{Name: "var/task/app.py", Mode: 0o644, Body: "x"}, te{Name: "var/task/native.so", Mode: 0o755, Body: testutil.ELFHeader(elf.EM_AARCH64)})
	for _, tc := range []struct {
		name string
		// write builds the layout and returns the name of its entry.
		write   func(w *testutil.LayoutWriter) v1.Descriptor
		arch    lambda.Arch
		before  []string // refusals found before
		changed bool
		// changes are substrings expected in layer 2's change list.
		changes []string
		// sameDiffID: the tar stream is kept byte for byte.
		sameDiffID bool
		unfixable  string
	}{
		{name: "ready image", write: func(w *testutil.LayoutWriter) v1.Descriptor {
			return w.Image(ociImage("amd64", goodCode(t), "gzip", types.OCILayer, t))
		}},
		{name: "attestation index", before: []string{checks.RuleIndex}, write: func(w *testutil.LayoutWriter) v1.Descriptor {
			img := w.Image(ociImage("amd64", goodCode(t), "gzip", types.OCILayer, t))
			return w.Index(types.OCIImageIndex, img, w.Attestation(img))
		}},
		{name: "two platforms, no arch", before: []string{checks.RuleIndex}, unfixable: checks.RuleIndex, write: func(w *testutil.LayoutWriter) v1.Descriptor {
			return w.Index(types.OCIImageIndex, w.Image(ociImage("amd64", goodCode(t), "gzip", types.OCILayer, t)), w.Image(ociImage("arm64", goodCode(t), "gzip", types.OCILayer, t)))
		}},
		{name: "docker manifest list, arm64 picked", arch: lambda.ARM64, before: []string{checks.RuleIndex}, write: func(w *testutil.LayoutWriter) v1.Descriptor {
			amd := ociImage("amd64", goodCode(t), "gzip", types.DockerLayer, t)
			arm := ociImage("arm64", goodCode(t), "gzip", types.DockerLayer, t)
			for _, im := range []*testutil.LayoutImage{&amd, &arm} {
				im.ManifestType, im.Layers[0].MediaType = types.DockerManifestSchema2, types.DockerLayer
			}
			return w.Index(types.DockerManifestList, w.Image(amd), w.Image(arm))
		}},
		{name: "uncompressed docker layer", before: []string{checks.RuleUncompressedLayer, checks.RuleMediaType}, changed: true, sameDiffID: true,
			changes: []string{"compressed with gzip (was none)", "media type application/vnd.docker.image.rootfs.diff.tar -> application/vnd.docker.image.rootfs.diff.tar.gzip"},
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				im := ociImage("amd64", goodCode(t), "none", types.DockerUncompressedLayer, t)
				im.ManifestType, im.Layers[0].MediaType = types.DockerManifestSchema2, types.DockerLayer
				return w.Image(im)
			}},
		{name: "zstd layer", before: []string{checks.RuleMediaType, checks.RuleZstdLayer}, changed: true, sameDiffID: true,
			changes: []string{"compressed with gzip (was zstd)"},
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				return w.Image(ociImage("amd64", goodCode(t), "zstd", types.OCILayerZStd, t))
			}},
		{name: "zstd labelled gzip", before: []string{checks.RuleZstdLayer}, changed: true, sameDiffID: true,
			changes: []string{"compressed with gzip (was zstd)"},
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				return w.Image(ociImage("amd64", goodCode(t), "zstd", types.OCILayer, t))
			}},
		{name: "foreign layer", before: []string{checks.RuleForeignLayer}, changed: true, sameDiffID: true,
			changes: []string{"(same blob)"},
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				im := ociImage("amd64", goodCode(t), "gzip", types.DockerForeignLayer, t)
				im.ManifestType, im.Layers[0].MediaType = types.DockerManifestSchema2, types.DockerLayer
				return w.Image(im)
			}},
		{name: "layer without parents", before: []string{checks.RuleParentDirs}, changed: true,
			changes: []string{"2 parent director(ies) added: /var, /var/task"},
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				return w.Image(ociImage("amd64", testutil.PyTar(t, te{Name: "var/task/app.py", Mode: 0o644, Body: "x"}), "gzip", types.OCILayer, t))
			}},
		{name: "hard link", before: []string{checks.RuleHardLinks}, changed: true,
			changes: []string{"1 hard link(s) stored as regular files"},
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				return w.Image(ociImage("amd64", testutil.PyTar(t, te{Name: "var", Type: "dir", Mode: 0o755}, te{Name: "var/task", Type: "dir", Mode: 0o755},
					te{Name: "var/task/app.py", Mode: 0o644, Body: "x"}, te{Name: "var/task/lib.py", Type: "hardlink", Link: "var/task/app.py", Mode: 0o644}), "gzip", types.OCILayer, t))
			}},
		{name: "0600 code, 0700 directory", before: []string{checks.RulePermissions}, changed: true,
			changes: []string{"3 mode(s) made readable"},
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				return w.Image(ociImage("amd64", testutil.PyTar(t, te{Name: "var", Type: "dir", Mode: 0o755}, te{Name: "var/task", Type: "dir", Mode: 0o700},
					te{Name: "var/task/app.py", Mode: 0o600, Body: "x"}, te{Name: "var/task/run", Mode: 0o700, Body: "#!/bin/sh"}), "gzip", types.OCILayer, t))
			}},
		{name: "aarch64 .so in an amd64 image", before: []string{checks.RuleArchitecture}, unfixable: checks.RuleArchitecture,
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				return w.Image(ociImage("amd64", aarch64SO, "gzip", types.OCILayer, t))
			}},
		{name: "arm64 image for x86_64", arch: lambda.X8664, before: []string{checks.RulePlatform}, unfixable: checks.RulePlatform,
			write: func(w *testutil.LayoutWriter) v1.Descriptor {
				return w.Image(ociImage("arm64", goodCode(t), "gzip", types.OCILayer, t))
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			w := testutil.NewLayout(t, dir)
			top := tc.write(w)
			w.Name("fixture", top)
			base := open(t, "oci:"+dir)
			ctx := context.Background()
			res, err := Fix(ctx, base.Index, base.Image, Options{Config: checks.Config{Arch: tc.arch}, TempDir: t.TempDir()})
			t.Cleanup(func() { res.Close() })
			require.NotNil(t, res)
			var rules []string
			for _, f := range res.Before.Findings {
				if f.Severity == checks.Refuse {
					rules = append(rules, f.Rule)
				}
			}
			assert.ElementsMatch(t, tc.before, rules, "%v", res.Before.Findings)
			if tc.unfixable != "" {
				var ue *UnfixableError
				require.ErrorAs(t, err, &ue)
				assert.Equal(t, tc.unfixable, ue.Err.Findings[0].Rule)
				var ce *checks.Error
				assert.ErrorAs(t, err, &ce, "the CLI maps *checks.Error to not-ready")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.changed, res.Changed)
			assert.Empty(t, checks.Errors(res.Findings))

			// Read back on its own: the verdict is ready.
			after, err := checks.Check(ctx, nil, res.Image, checks.Config{Arch: tc.arch}, checks.LoadOptions{})
			require.NoError(t, err)
			assert.True(t, after.Ready(), "%v", after.Findings)

			srcImg := res.Before.Selected
			srcManifest, err := srcImg.Manifest()
			require.NoError(t, err)
			if !tc.changed {
				assert.Equal(t, res.Before.Manifest, res.Digest, "an image needing nothing keeps its digest")
				assert.Empty(t, res.Layers)
				return
			}
			m, err := res.Image.Manifest()
			require.NoError(t, err)
			require.Len(t, m.Layers, 2)
			assert.Equal(t, srcManifest.Layers[0], m.Layers[0], "an untouched layer keeps its descriptor")
			require.Len(t, res.Layers, 1)
			ch := res.Layers[0]
			assert.Equal(t, 2, ch.Layer)
			for _, want := range tc.changes {
				assert.Contains(t, fmtChanges(ch.Changes), want)
			}
			oldCfg, err := srcImg.ConfigFile()
			require.NoError(t, err)
			newCfg, err := res.Image.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, tc.sameDiffID, oldCfg.RootFS.DiffIDs[1] == newCfg.RootFS.DiffIDs[1])
			assert.Equal(t, oldCfg.RootFS.DiffIDs[0], newCfg.RootFS.DiffIDs[0])
			assert.Equal(t, stripDiffIDs(t, srcImg), stripDiffIDs(t, res.Image), "the config but its diff_ids is byte for byte the same")
			if tc.sameDiffID {
				oldRaw, _ := srcImg.RawConfigFile()
				newRaw, _ := res.Image.RawConfigFile()
				assert.Equal(t, oldRaw, newRaw, "the same tar stream: the config is untouched")
			}
		})
	}
}

func fmtChanges(cs []string) string { return strings.Join(cs, "\n") }

// stripDiffIDs is the raw config with the diff_ids' values blanked.
func stripDiffIDs(t *testing.T, img v1.Image) string {
	raw, err := img.RawConfigFile()
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	s := string(raw)
	for _, d := range cf.RootFS.DiffIDs {
		s = strings.ReplaceAll(s, d.String(), "DIFFID")
	}
	return s
}
