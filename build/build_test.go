package build

import (
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/lambda"
)

// Rules 1 and 2, for both media-type families: one manifest in the base's
// family, base layers untouched.
func TestBuildKeepsFamilyAndBaseLayers(t *testing.T) {
	for _, tc := range []struct {
		name             string
		base             v1.Image
		manifest, config types.MediaType
		layer            types.MediaType
	}{
		{"oci", baseImage(t, "x86_64"), types.OCIManifestSchema1, types.OCIConfigJSON, types.OCILayer},
		{"docker", dockerBase(t, "x86_64"), types.DockerManifestSchema2, types.DockerConfigJSON, types.DockerLayer},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res := mustBuild(t, demoOpts(t, tc.base))
			mt, err := res.Image.MediaType()
			require.NoError(t, err)
			assert.Equal(t, tc.manifest, mt, "one image manifest, never an index")
			assert.Equal(t, tc.manifest, res.MediaType)
			m, err := res.Image.Manifest()
			require.NoError(t, err)
			assert.Equal(t, tc.config, m.Config.MediaType)

			bm, err := tc.base.Manifest()
			require.NoError(t, err)
			require.Len(t, m.Layers, len(bm.Layers)+2, "base layers + demo layer + code")
			for i, bl := range bm.Layers {
				assert.Equal(t, bl.Digest, m.Layers[i].Digest, "base layer %d reused", i)
				assert.Equal(t, bl.MediaType, m.Layers[i].MediaType)
				assert.Equal(t, bl.Size, m.Layers[i].Size)
			}
			for _, l := range m.Layers[len(bm.Layers):] {
				assert.Equal(t, tc.layer, l.MediaType, "added layers follow the base's family")
			}
			// Blobs of base layers are the base's bytes.
			layers, err := res.Image.Layers()
			require.NoError(t, err)
			baseLayers, err := tc.base.Layers()
			require.NoError(t, err)
			for i := range baseLayers {
				a, err := readAll(layers[i].Compressed())
				require.NoError(t, err)
				b, err := readAll(baseLayers[i].Compressed())
				require.NoError(t, err)
				assert.Equal(t, b, a)
			}
		})
	}
}

func readAll(rc io.ReadCloser, err error) ([]byte, error) {
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}

// Rule 3: config and history.
func TestBuildConfig(t *testing.T) {
	base := baseImage(t, "arm64")
	opts := demoOpts(t, base)
	opts.Arch = "arm64"
	opts.Env = []string{"STAGE=prod", "TZ=UTC"}
	opts.Layers[0].Name = "arn:aws:lambda:eu-west-1:123456789012:layer:demo:3"
	res := mustBuild(t, opts)

	cf, err := res.Image.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"app.handler"}, cf.Config.Cmd)
	assert.Equal(t, []string{"/lambda-entrypoint.sh"}, cf.Config.Entrypoint)
	assert.Equal(t, "/var/task", cf.Config.WorkingDir)
	assert.Equal(t, "arm64", cf.Architecture)
	assert.Equal(t, "linux", cf.OS)
	wantEnv := append([]string{}, basegen.Env...)
	for i, kv := range wantEnv {
		if strings.HasPrefix(kv, "TZ=") {
			wantEnv[i] = "TZ=UTC"
		}
	}
	wantEnv = append(wantEnv, "STAGE=prod")
	assert.Equal(t, wantEnv, cf.Config.Env, "base ENV kept, --env added, same key replaced in place")
	assert.Equal(t, fixedTime, cf.Created.Time.UTC())

	bcf, err := base.ConfigFile()
	require.NoError(t, err)
	require.Len(t, cf.History, len(bcf.History)+2, "one history entry per added layer")
	h1, h2 := cf.History[len(bcf.History)], cf.History[len(bcf.History)+1]
	assert.Contains(t, h1.CreatedBy, "arn:aws:lambda:eu-west-1:123456789012:layer:demo:3")
	assert.Contains(t, h1.CreatedBy, res.Layers[len(res.Layers)-2].Digest.String())
	assert.Contains(t, h2.CreatedBy, "code")
	assert.Contains(t, h2.CreatedBy, res.Layers[len(res.Layers)-1].Digest.String())
	assert.Equal(t, fixedTime, h2.Created.Time.UTC())
}

// Created falls back to SOURCE_DATE_EPOCH.
func TestBuildCreatedFromSourceDateEpoch(t *testing.T) {
	t.Setenv("SOURCE_DATE_EPOCH", "1700000000")
	opts := demoOpts(t, baseImage(t, "x86_64"))
	opts.Created = v1.Time{}.Time
	res := mustBuild(t, opts)
	cf, err := res.Image.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, int64(1700000000), cf.Created.Unix())
}

// goldenDigest pins the demo build (testdata base, demo layer, a one-file
// code dir, fixed time). It changes only when layerconv's output, the
// fixtures or the config the builder writes change — each a deliberate
// decision to re-pin.
const goldenDigest = "sha256:ee7a2bbb5e00aca3cb64e7c6c86db2818a9f5b6dffb5bd025f501b6ca4e39dd5"

func TestBuildGolden(t *testing.T) {
	build := func() v1.Hash {
		opts := demoOpts(t, baseImage(t, "x86_64"))
		opts.Layers[0].Name = "layer.zip"
		opts.Code.Name = "code"
		opts.CacheDir = t.TempDir()
		return mustBuild(t, opts).Digest
	}
	first, second := build(), build()
	assert.Equal(t, first, second, "same inputs, same digest")
	assert.Equal(t, goldenDigest, first.String())
}

// Rule 4: sizes, the limit, the cache of base layer sizes.
func TestBuildSize(t *testing.T) {
	base := baseImage(t, "x86_64")
	opts := demoOpts(t, base)
	opts.CacheDir = t.TempDir()
	res := mustBuild(t, opts)

	var total int64
	for _, l := range res.Layers {
		n := mustUncompressedLen(t, res.Image, l.Digest)
		assert.Equal(t, n, l.UncompressedSize, "layer %s (%s)", l.Digest, l.Kind)
		total += n
	}
	assert.Equal(t, total, res.UncompressedSize)

	// Base layer sizes are cached by digest, one small file each; a
	// second build reads them instead of decompressing (shown by planting
	// a different number).
	baseLayers, err := base.Layers()
	require.NoError(t, err)
	d0, err := baseLayers[0].Digest()
	require.NoError(t, err)
	p := checks.Reader{CacheDir: Cache{Root: opts.CacheDir}.Listings()}.Path(d0)
	raw, err := os.ReadFile(p)
	require.NoError(t, err)
	var rec checks.Listing
	require.NoError(t, json.Unmarshal(raw, &rec))
	rec.UncompressedSize = 12345
	planted, err := json.Marshal(rec)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(p, planted, 0o644))
	res2 := mustBuild(t, opts)
	assert.Equal(t, int64(12345), res2.Layers[0].UncompressedSize)

	// Over the limit: a per-layer table, no image.
	opts.MaxSize = total - 1
	opts.CacheDir = ""
	_, err = tBuild(context.Background(), opts)
	var se *checks.SizeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, total, se.Total)
	msg := err.Error()
	for _, l := range res.Layers {
		assert.Contains(t, msg, shortDigest(l.Digest))
		assert.Contains(t, msg, fmt.Sprint(l.UncompressedSize))
	}
	assert.Contains(t, msg, "layer.zip")
	assert.Contains(t, msg, "COMPRESSED")
	assert.Contains(t, msg, "UNCOMPRESSED")

	opts.MaxSize = total
	mustBuild(t, opts)
}

func mustUncompressedLen(t *testing.T, img v1.Image, d v1.Hash) int64 {
	t.Helper()
	l, err := img.LayerByDigest(d)
	require.NoError(t, err)
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	require.NoError(t, err)
	return n
}

func TestBuildWarnsAboutLargeManifest(t *testing.T) {
	opts := demoOpts(t, baseImage(t, "x86_64"))
	opts.Layers = nil
	for i := range 170 {
		opts.Layers = append(opts.Layers, Source{Path: writeZip(t, fmt.Sprintf("l%d.zip", i), f(fmt.Sprintf("f%d", i), 0o644, "x"))})
	}
	var warned []string
	opts.Warn = func(s string) { warned = append(warned, s) }
	res := mustBuild(t, opts)
	assert.Greater(t, res.ManifestSize, int64(lambda.ManifestSizeAdvice))
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "25400")
	assert.Equal(t, res.Warnings, warned)

	small := mustBuild(t, demoOpts(t, baseImage(t, "x86_64")))
	assert.Empty(t, small.Warnings)
}

// Rule 5: the handler's module must be where the runtime looks.
func TestBuildHandler(t *testing.T) {
	base := baseImage(t, "x86_64") // python3.12-like: family from /var/lang/bin/python3.12
	for _, tc := range []struct {
		name     string
		runtime  string
		layers   [][]basegen.File
		code     []basegen.File
		handler  string
		searched []string // empty: must succeed
	}{
		{name: "python task root", code: []basegen.File{f("app.py", 0o644, "")}, handler: "app.handler"},
		{name: "python package module", code: []basegen.File{d("pkg/"), f("pkg/mod.py", 0o644, "")}, handler: "pkg.mod.handler"},
		{name: "python slash form", code: []basegen.File{d("src/"), f("src/app.py", 0o644, "")}, handler: "src/app.handler"},
		{name: "python package __init__", code: []basegen.File{d("svc/"), f("svc/__init__.py", 0o644, "")}, handler: "svc.handler"},
		{name: "python in layer /opt/python", layers: [][]basegen.File{{d("python/"), f("python/lib_handler.py", 0o644, "")}},
			code: []basegen.File{f("README", 0o644, "")}, handler: "lib_handler.run"},
		{name: "python in site-packages", layers: [][]basegen.File{{f("python/lib/python3.12/site-packages/sp.py", 0o644, "")}},
			code: []basegen.File{f("README", 0o644, "")}, handler: "sp.run"},
		{name: "python missing", code: []basegen.File{f("main.py", 0o644, "")}, handler: "app.handler",
			searched: []string{"/var/task/app.py", "/opt/python/lib/python3.12/site-packages/app.py", "/opt/python/app.py"}},
		{name: "python wrong site-packages version", runtime: "python3.13",
			layers: [][]basegen.File{{f("python/lib/python3.12/site-packages/sp.py", 0o644, "")}},
			code:   []basegen.File{f("README", 0o644, "")}, handler: "sp.run",
			searched: []string{"/opt/python/lib/python3.13/site-packages/sp.py"}},
		{name: "node mjs", runtime: "nodejs22.x", code: []basegen.File{f("app.mjs", 0o644, "")}, handler: "app.handler"},
		{name: "node cjs in dir", runtime: "nodejs22.x", code: []basegen.File{d("dist/"), f("dist/index.cjs", 0o644, "")}, handler: "dist/index.handler"},
		{name: "node in layer", runtime: "nodejs20.x", layers: [][]basegen.File{{f("nodejs/node_modules/shared.js", 0o644, "")}},
			code: []basegen.File{f("x.txt", 0o644, "")}, handler: "shared.handler"},
		{name: "node missing", runtime: "nodejs22.x", code: []basegen.File{f("app.py", 0o644, "")}, handler: "app.handler",
			searched: []string{"/var/task/app.js", "/var/task/app.mjs", "/var/task/app.cjs", "/opt/nodejs/node22/node_modules/app.js", "/opt/nodejs/node_modules/app.js"}},
		{name: "ruby", runtime: "ruby3.3", code: []basegen.File{f("lambda_function.rb", 0o644, "")}, handler: "lambda_function.lambda_handler"},
		{name: "ruby missing", runtime: "ruby3.3", code: []basegen.File{f("app.py", 0o644, "")}, handler: "function.Handler.process",
			searched: []string{"/var/task/function.rb", "/opt/ruby/lib/function.rb"}},
		{name: "dotnet", runtime: "dotnet8", code: []basegen.File{f("MyFn.dll", 0o644, "")}, handler: "MyFn::MyFn.Function::Handler"},
		{name: "dotnet missing", runtime: "dotnet8", code: []basegen.File{f("Other.dll", 0o644, "")}, handler: "MyFn::MyFn.Function::Handler",
			searched: []string{"/var/task/MyFn.dll"}},
		{name: "java not checked", runtime: "java21", code: []basegen.File{d("lib/"), f("lib/fn.jar", 0o644, "PK")}, handler: "example.Handler::handleRequest"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tOpts{Base: base, Arch: "x86_64", Runtime: tc.runtime, Handler: tc.handler, Created: fixedTime,
				Code: Source{Path: writeDir(t, tc.code...)}}
			for i, files := range tc.layers {
				opts.Layers = append(opts.Layers, Source{Path: writeZip(t, fmt.Sprintf("layer%d.zip", i), files...)})
			}
			res, err := tBuild(context.Background(), opts)
			if len(tc.searched) == 0 {
				require.NoError(t, err)
				defer res.Close()
				require.NoError(t, validate.Image(res.Image))
				return
			}
			var he *lambda.HandlerError
			require.ErrorAs(t, err, &he)
			for _, s := range tc.searched {
				assert.Contains(t, he.Searched, s)
			}
			assert.Contains(t, err.Error(), tc.handler)
			for _, s := range he.Shown {
				assert.Contains(t, err.Error(), s)
			}
		})
	}
}

func TestBuildProvidedBootstrap(t *testing.T) {
	provided := withoutBootstrap(t, baseImage(t, "x86_64"))
	for _, tc := range []struct {
		name    string
		base    v1.Image
		runtime string
		layer   []basegen.File
		code    []basegen.File
		target  string // "" = no link layer added
		wantErr string
		// wantWarn is a warning that must be given ("" = none about bootstrap).
		wantWarn string
	}{
		{name: "code bootstrap", base: provided, runtime: "provided.al2023",
			code: []basegen.File{f("bootstrap", 0o755, "#!/bin/sh\n")}, target: "/var/task/bootstrap"},
		{name: "layer bootstrap", base: provided, runtime: "provided.al2",
			layer: []basegen.File{f("bootstrap", 0o755, "#!/bin/sh\n")}, code: []basegen.File{f("fn.sh", 0o755, "")}, target: "/opt/bootstrap"},
		{name: "task root wins over /opt", base: provided, runtime: "provided.al2023",
			layer: []basegen.File{f("bootstrap", 0o755, "")}, code: []basegen.File{f("bootstrap", 0o755, "")}, target: "/var/task/bootstrap"},
		{name: "unknown family, code bootstrap still linked", base: provided,
			code: []basegen.File{f("bootstrap", 0o755, "")}, target: "/var/task/bootstrap"},
		{name: "base has bootstrap", base: baseImage(t, "x86_64"), runtime: "provided.al2023",
			code: []basegen.File{f("bootstrap", 0o755, "")}, wantWarn: "the function's /var/task/bootstrap will not run"},
		{name: "no bootstrap anywhere", base: provided, runtime: "provided.al2023",
			code: []basegen.File{f("main", 0o755, "")}, wantErr: "/var/task/bootstrap, /opt/bootstrap and /var/runtime/bootstrap"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := tOpts{Base: tc.base, Arch: "x86_64", Runtime: tc.runtime, Handler: "function.handler", Created: fixedTime,
				Code: Source{Path: writeDir(t, tc.code...)}}
			if tc.layer != nil {
				opts.Layers = []Source{{Path: writeZip(t, "layer.zip", tc.layer...)}}
			}
			if tc.wantErr != "" {
				_, err := tBuild(context.Background(), opts)
				require.Error(t, err)
				assert.Contains(t, err.Error(), tc.wantErr)
				return
			}
			res := mustBuild(t, opts)
			var bootstrapWarnings []string
			for _, w := range res.Warnings {
				if strings.Contains(w, "bootstrap") {
					bootstrapWarnings = append(bootstrapWarnings, w)
				}
			}
			if tc.wantWarn != "" {
				require.Len(t, bootstrapWarnings, 1)
				assert.Contains(t, bootstrapWarnings[0], tc.wantWarn)
			} else {
				assert.Empty(t, bootstrapWarnings)
			}
			bm, err := tc.base.Manifest()
			require.NoError(t, err)
			added := len(opts.Layers) + 1
			layers, err := res.Image.Layers()
			require.NoError(t, err)
			if tc.target == "" {
				assert.Len(t, layers, len(bm.Layers)+added)
				return
			}
			require.Len(t, layers, len(bm.Layers)+added+1)
			last := res.Layers[len(res.Layers)-1]
			assert.Equal(t, "bootstrap", last.Kind)
			ents := tarEntries(t, layers[len(layers)-1])
			require.Len(t, ents, 3)
			for _, dname := range []string{"var", "var/runtime"} {
				require.Contains(t, ents, dname)
				assert.Equal(t, byte('5'), ents[dname].Typeflag, "parent %s is a directory entry", dname)
				assert.Equal(t, int64(0o755), ents[dname].Mode)
			}
			link := ents["var/runtime/bootstrap"]
			require.NotNil(t, link)
			assert.Equal(t, byte('2'), link.Typeflag)
			assert.Equal(t, tc.target, link.Linkname)
			assert.Equal(t, fixedTime, link.ModTime.UTC())
		})
	}
}

// Rule 6: native code must match the target architecture.
func TestBuildArchOfNativeCode(t *testing.T) {
	var many []basegen.File
	for i := range 25 {
		many = append(many, f(fmt.Sprintf("lib/lib%02d.so", i), 0o755, elfHeader(uint16(elf.EM_X86_64))))
	}
	for _, tc := range []struct {
		name    string
		arch    string
		files   []basegen.File
		allow   bool
		wantErr []string
		wantN   int
	}{
		{name: "x86-64 on x86_64", arch: "x86_64", files: []basegen.File{f("bin/tool", 0o755, elfHeader(uint16(elf.EM_X86_64)))}},
		{name: "aarch64 on arm64", arch: "arm64", files: []basegen.File{f("bin/tool", 0o755, elfHeader(uint16(elf.EM_AARCH64)))}},
		{name: "x86-64 on arm64", arch: "arm64", files: []basegen.File{f("bin/tool", 0o755, elfHeader(uint16(elf.EM_X86_64))), f("bin/ok", 0o755, elfHeader(uint16(elf.EM_AARCH64)))},
			wantErr: []string{"/opt/bin/tool (x86-64)", "not built for arm64"}, wantN: 1},
		{name: "aarch64 on x86_64", arch: "x86_64", files: []basegen.File{f("python/x.so", 0o644, elfHeader(uint16(elf.EM_AARCH64)))},
			wantErr: []string{"/opt/python/x.so (AArch64)"}, wantN: 1},
		{name: "many listed at most 20", arch: "arm64", files: many, wantErr: []string{"/opt/lib/lib19.so", "and 5 more"}, wantN: 25},
		{name: "allowed", arch: "arm64", files: []basegen.File{f("bin/tool", 0o755, elfHeader(uint16(elf.EM_X86_64)))}, allow: true},
		{name: "scripts are not ELF", arch: "arm64", files: []basegen.File{f("bin/tool", 0o755, "#!/bin/sh\necho this is long enough to be read\n")}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := demoOpts(t, baseImage(t, tc.arch))
			opts.Arch = tc.arch
			opts.AllowArchMismatch = tc.allow
			opts.Layers = append(opts.Layers, Source{Path: writeZip(t, "native.zip", tc.files...)})
			res, err := tBuild(context.Background(), opts)
			if tc.wantErr == nil {
				require.NoError(t, err)
				defer res.Close()
				require.NoError(t, validate.Image(res.Image))
				if tc.allow {
					require.Len(t, res.Warnings, 1)
					assert.Contains(t, res.Warnings[0], "/opt/bin/tool")
					assert.Contains(t, res.Warnings[0], "allowed for this build")
				}
				return
			}
			var ae *checks.ArchMismatchError
			require.ErrorAs(t, err, &ae)
			assert.Len(t, ae.Files, tc.wantN)
			for _, s := range tc.wantErr {
				assert.Contains(t, err.Error(), s)
			}
			if tc.wantN > 20 {
				assert.NotContains(t, err.Error(), "/opt/lib/lib20.so")
			}
		})
	}
}

// Rule 7: warnings, not errors.
func TestBuildEnvWarnings(t *testing.T) {
	for _, tc := range []struct {
		name   string
		env    []string
		layers bool
		want   []string
	}{
		{name: "PYTHONPATH with layers", env: []string{"PYTHONPATH=/var/task/src"}, layers: true, want: []string{"PYTHONPATH is set while layers are present"}},
		{name: "NODE_PATH with layers", env: []string{"NODE_PATH=/x"}, layers: true, want: []string{"NODE_PATH is set while layers are present"}},
		{name: "PYTHONPATH without layers", env: []string{"PYTHONPATH=/var/task/src"}},
		{name: "reserved", env: []string{"AWS_REGION=eu-west-1", "_HANDLER=x", "OK=1"}, want: []string{"AWS_REGION is reserved", "_HANDLER is reserved"}},
		{name: "plain", env: []string{"STAGE=dev"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := demoOpts(t, baseImage(t, "x86_64"))
			if !tc.layers {
				opts.Layers = nil
				opts.Code = Source{Path: writeDir(t, f("app.py", 0o644, ""), f("demo_greeting.py", 0o644, ""))}
			}
			opts.Env = tc.env
			res := mustBuild(t, opts)
			require.Len(t, res.Warnings, len(tc.want))
			for i, w := range tc.want {
				assert.Contains(t, res.Warnings[i], w)
			}
		})
	}
}

func TestBuildRefusesBadInput(t *testing.T) {
	for _, tc := range []struct {
		name   string
		mutate func(*tOpts)
		want   string
	}{
		{"base of another arch", func(o *tOpts) { o.Arch = "arm64" }, "base image is linux/amd64, but architecture arm64 needs linux/arm64"},
		{"bad arch", func(o *tOpts) { o.Arch = "sparc" }, `architecture "sparc": Lambda supports x86_64, arm64`},
		{"no handler", func(o *tOpts) { o.Handler = "" }, "no handler"},
		{"no code", func(o *tOpts) { o.Code = Source{} }, "no function code"},
		{"bad env", func(o *tOpts) { o.Env = []string{"NOEQUALS"} }, `env "NOEQUALS": want KEY=VALUE`},
		{"missing layer", func(o *tOpts) { o.Layers = []Source{{Path: "/nonexistent/l.zip"}} }, `/nonexistent/l.zip`},
		{"bad zip", func(o *tOpts) {
			p := filepath.Join(filepath.Dir(o.Code.Path), "bad.zip")
			_ = os.WriteFile(p, []byte("not a zip"), 0o644)
			o.Layers = []Source{{Path: p}}
		}, "bad.zip"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := demoOpts(t, baseImage(t, "x86_64"))
			tc.mutate(&opts)
			_, err := tBuild(context.Background(), opts)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
}

func TestBuildCancelled(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := tBuild(ctx, demoOpts(t, baseImage(t, "x86_64")))
	require.Error(t, err)
	assert.True(t, errors.Is(err, context.Canceled), "got %v", err)
}

func TestBuildWarnsAboutEntrypoint(t *testing.T) {
	for _, tc := range []struct {
		name string
		ep   []string
		want string
	}{
		{"none", nil, "no ENTRYPOINT"},
		{"relative", []string{"entry.sh"}, "not an absolute path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := baseImage(t, "x86_64")
			cf, err := base.ConfigFile()
			require.NoError(t, err)
			cfg := cf.Config.DeepCopy()
			cfg.Entrypoint = tc.ep
			custom, err := mutate.Config(base, *cfg)
			require.NoError(t, err)
			res := mustBuild(t, demoOpts(t, custom))
			require.Len(t, res.Warnings, 1)
			assert.Contains(t, res.Warnings[0], tc.want)
		})
	}
}

// The check looks at what the container sees: a file a later layer
// overrides is never loaded, whatever its architecture (both orders).
func TestBuildArchLastWriterWins(t *testing.T) {
	armZip := func(t *testing.T) string {
		return writeZip(t, "arm.zip", f("lib/libx.so", 0o755, elfHeader(uint16(elf.EM_AARCH64))))
	}
	x86Zip := func(t *testing.T) string {
		return writeZip(t, "x86.zip", f("lib/libx.so", 0o755, elfHeader(uint16(elf.EM_X86_64))))
	}
	scriptZip := func(t *testing.T) string {
		return writeZip(t, "script.zip", f("lib/libx.so", 0o755, "#!/bin/sh\necho no longer native code here\n"))
	}
	for _, tc := range []struct {
		name    string
		arch    string
		layers  []func(*testing.T) string
		wantBad string // "" when the build succeeds
	}{
		{"arm then x86 on x86_64", "x86_64", []func(*testing.T) string{armZip, x86Zip}, ""},
		{"arm then x86 on arm64", "arm64", []func(*testing.T) string{armZip, x86Zip}, "/opt/lib/libx.so (x86-64)"},
		{"x86 then arm on arm64", "arm64", []func(*testing.T) string{x86Zip, armZip}, ""},
		{"x86 then arm on x86_64", "x86_64", []func(*testing.T) string{x86Zip, armZip}, "/opt/lib/libx.so (AArch64)"},
		{"arm replaced by a script", "x86_64", []func(*testing.T) string{armZip, scriptZip}, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := demoOpts(t, baseImage(t, tc.arch))
			opts.Arch = tc.arch
			for _, l := range tc.layers {
				opts.Layers = append(opts.Layers, Source{Path: l(t)})
			}
			res, err := tBuild(context.Background(), opts)
			if tc.wantBad == "" {
				require.NoError(t, err)
				res.Close()
				return
			}
			var ae *checks.ArchMismatchError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, []string{tc.wantBad}, ae.Files, "the overridden file is not listed")
		})
	}
}

// ELF files in the base are the platform's own business: an arm64 library
// under /opt in an x86_64 base does not fail the build; the whole image is
// checked, so it is reported as a warning naming the file.
func TestBuildArchWarnsAboutBaseELF(t *testing.T) {
	base := appendLayer(t, baseImage(t, "x86_64"), d("opt/"), d("opt/lib/"), f("opt/lib/base.so", 0o755, elfHeader(uint16(elf.EM_AARCH64))))
	opts := demoOpts(t, base)
	res := mustBuild(t, opts)
	require.Len(t, res.Warnings, 1)
	assert.Contains(t, res.Warnings[0], "in the base")
	assert.Contains(t, res.Warnings[0], "/opt/lib/base.so (AArch64)")

	// Control: the same file in an added layer is refused.
	opts.Layers = append(opts.Layers, Source{Path: writeZip(t, "arm.zip", f("lib/base.so", 0o755, elfHeader(uint16(elf.EM_AARCH64))))})
	_, err := tBuild(context.Background(), opts)
	var ae *checks.ArchMismatchError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, []string{"/opt/lib/base.so (AArch64)"}, ae.Files)
}

// Rule 4 when the inputs declare more than the limit leaves after the base:
// nothing is converted, and the user gets the per-layer table (base
// measured, every input at its declared size), with the input that crosses
// the limit marked as refused.
func TestBuildSizeTableWhenOneInputIsTooLarge(t *testing.T) {
	base := baseImage(t, "x86_64")
	big := strings.Repeat("x", 200_000)
	for _, tc := range []struct {
		name      string
		layers    func(t *testing.T) []Source
		code      func(t *testing.T) Source
		wantKinds []string // kinds of the declared rows
		refused   string
	}{
		{"a layer", func(t *testing.T) []Source {
			return []Source{
				{Path: writeZip(t, "layer.zip", basegen.DemoLayerFiles()...)},
				{Path: writeZip(t, "big.zip", f("data/big.bin", 0o644, big))},
			}
		}, func(t *testing.T) Source {
			return Source{Path: writeDir(t, f("app.py", 0o644, "def handler(e, c):\n    return 1\n"))}
		}, []string{"layer", "layer", "code"}, "big.zip"},
		{"the code directory", func(t *testing.T) []Source {
			return []Source{{Path: writeZip(t, "layer.zip", basegen.DemoLayerFiles()...)}}
		}, func(t *testing.T) Source {
			return Source{Path: writeDir(t, f("app.py", 0o644, "def handler(e, c):\n    return 1\n"), f("big.bin", 0o644, big)), Name: "code-dir"}
		}, []string{"layer", "code"}, "code-dir"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			opts := demoOpts(t, base)
			opts.Layers, opts.Code = tc.layers(t), tc.code(t)
			// The inputs alone fit; with the base they do not.
			opts.MaxSize = 205_000
			_, err := tBuild(context.Background(), opts)
			var se *checks.SizeError
			require.ErrorAs(t, err, &se)
			assert.NotContains(t, err.Error(), "layerconv:", "the table, not the converter's bare refusal")

			baseLayers, err2 := base.Layers()
			require.NoError(t, err2)
			require.Greater(t, len(se.Layers), len(baseLayers))
			var total int64
			for i, bl := range baseLayers {
				d, err := bl.Digest()
				require.NoError(t, err)
				assert.Equal(t, d, se.Layers[i].Digest)
				assert.Equal(t, mustLen(t, bl), se.Layers[i].UncompressedSize, "base layer %d measured", i)
			}
			var declaredKinds []string
			for _, l := range se.Layers {
				total += l.UncompressedSize
				if l.Declared {
					declaredKinds = append(declaredKinds, l.Kind)
					continue
				}
				assert.NotEmpty(t, l.Digest.Hex, "converted rows have digests: %+v", l)
			}
			assert.Equal(t, tc.wantKinds, declaredKinds)
			assert.Equal(t, total, se.Total)
			assert.Greater(t, se.Total, se.Limit)
			var refused checks.SizeRow
			for _, l := range se.Layers {
				if l.Note == "refused before conversion" {
					refused = l
				}
			}
			assert.Equal(t, tc.refused, refused.Source)
			assert.GreaterOrEqual(t, refused.UncompressedSize, int64(len(big)))
			assert.Contains(t, err.Error(), tc.refused+" (declared size: refused before conversion)")
			assert.Contains(t, err.Error(), "UNCOMPRESSED")
		})
	}
}

func mustLen(t *testing.T, l v1.Layer) int64 {
	t.Helper()
	rc, err := l.Uncompressed()
	require.NoError(t, err)
	defer rc.Close()
	n, err := io.Copy(io.Discard, rc)
	require.NoError(t, err)
	return n
}

// Added layers are listed from layerconv's index, never decompressed: the
// scan cache (written for every layer the scanner reads) holds only the
// base layers, and on a cache hit the layer blob is opened exactly once,
// by layerconv's digest check (inotify counts the opens, so no hook in
// the build is needed and none can be bypassed).
func TestBuildDoesNotDecompressAddedLayers(t *testing.T) {
	cache := t.TempDir()
	base := baseImage(t, "x86_64")
	opts := demoOpts(t, base)
	opts.CacheDir = cache
	first := mustBuild(t, opts)

	baseLayers, err := base.Layers()
	require.NoError(t, err)
	var want []string
	for _, l := range baseLayers {
		d, err := l.Digest()
		require.NoError(t, err)
		want = append(want, d.Algorithm+"-"+d.Hex+".json")
	}
	scans, err := filepath.Glob(filepath.Join(cache, "layer-scan", "*", "*.json"))
	require.NoError(t, err)
	var got []string
	for _, s := range scans {
		got = append(got, filepath.Base(s))
	}
	assert.ElementsMatch(t, want, got, "only base layers were scanned")

	blobs, err := filepath.Glob(filepath.Join(cache, "layerconv", "blobs", "sha256", "*"))
	require.NoError(t, err)
	require.Len(t, blobs, 1, "the layer zip is cached (the code directory is not)")
	// Without its scan cache, a build that lists the added layer by
	// decompressing it has to open the blob again.
	require.NoError(t, os.RemoveAll(filepath.Join(cache, "layer-scan")))

	w := watchOpens(t, blobs[0])
	second, err := tBuild(context.Background(), opts)
	require.NoError(t, err)
	defer second.Close()
	assert.Equal(t, 1, w.opens(t), "the blob is opened once, by layerconv's cache-hit check (hash, no inflating), never by the build")
	assert.Equal(t, first.Digest, second.Digest)
	added := second.Layers[len(baseLayers)]
	assert.True(t, added.CacheHit)
	want1 := first.Layers[len(baseLayers)]
	want1.CacheHit = true
	assert.Equal(t, want1, added)

	// Control: the watch sees an open the way the build would make it.
	f, err := os.Open(blobs[0])
	require.NoError(t, err)
	require.NoError(t, f.Close())
	assert.Equal(t, 1, w.opens(t), "control")
}

// With --base of an AWS image the family comes from the reference.
func TestBuildFamilyFromBaseName(t *testing.T) {
	opts := demoOpts(t, withoutBootstrap(t, baseImage(t, "x86_64")))
	opts.BaseName = "public.ecr.aws/lambda/nodejs:22-x86_64"
	_, err := tBuild(t.Context(), opts)
	var he *lambda.HandlerError
	require.ErrorAs(t, err, &he)
	assert.Equal(t, lambda.NodeJS, he.Family)
	assert.Contains(t, he.Searched, "/opt/nodejs/node22/node_modules/app.js")
}

func TestBuildRuntimeIDs(t *testing.T) {
	opts := demoOpts(t, baseImage(t, "x86_64"))
	opts.Runtime = "pyhton3.12"
	_, err := tBuild(t.Context(), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `unknown runtime "pyhton3.12"`)

	// A deprecated id still says where the handler lives (migrations).
	opts.Runtime = "python3.8"
	res := mustBuild(t, opts)
	assert.Equal(t, lambda.Python, res.Family)
}

// The code lands under a custom LAMBDA_TASK_ROOT.
func TestBuildCustomTaskRoot(t *testing.T) {
	base := baseImage(t, "x86_64")
	cf, err := base.ConfigFile()
	require.NoError(t, err)
	cfg := cf.Config.DeepCopy()
	for i, kv := range cfg.Env {
		if strings.HasPrefix(kv, "LAMBDA_TASK_ROOT=") {
			cfg.Env[i] = "LAMBDA_TASK_ROOT=/srv/fn"
		}
	}
	custom, err := mutate.Config(base, *cfg)
	require.NoError(t, err)
	res := mustBuild(t, demoOpts(t, custom))
	layers, err := res.Image.Layers()
	require.NoError(t, err)
	ents := tarEntries(t, layers[len(layers)-1])
	assert.Contains(t, ents, "srv/fn/app.py")
	assert.Contains(t, ents, "srv/fn")
	assert.Contains(t, ents, "srv")
}

// The whole image is checked, base included: a base layer without parent
// directory entries, or with a hard link, is refused before anything is
// written, naming the rule, the base layer and the path, with a hint.
func TestBuildRefusesBadBaseLayers(t *testing.T) {
	for _, tc := range []struct {
		name       string
		files      []basegen.File
		rule, path string
		lambdaErr  string
	}{
		{"missing parent directories", []basegen.File{f("usr/local/lib/libfoo.so", 0o644, "x")},
			checks.RuleParentDirs, "/usr", "MissingParentDirectory"},
		{"hard link", []basegen.File{d("etc/"), f("etc/a", 0o644, "x"), {Name: "etc/b", Mode: 0o644, Body: "etc/a", Hardlink: true}},
			checks.RuleHardLinks, "/etc/b", "UnsupportedImageLayerDetected"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := appendLayer(t, baseImage(t, "x86_64"), tc.files...)
			baseLayers, err := base.Layers()
			require.NoError(t, err)
			_, err = tBuild(context.Background(), demoOpts(t, base))
			var ce *checks.Error
			require.ErrorAs(t, err, &ce)
			require.Len(t, ce.Findings, 1, "%v", err)
			fd := ce.Findings[0]
			assert.Equal(t, tc.rule, fd.Rule)
			assert.Equal(t, len(baseLayers), fd.Layer, "the base's top layer")
			assert.Equal(t, checks.Base, fd.Origin)
			assert.Equal(t, tc.path, fd.Path)
			assert.Equal(t, tc.lambdaErr, fd.LambdaError)
			assert.NotEmpty(t, fd.Hint)
			msg := err.Error()
			for _, want := range []string{"[" + tc.rule + "]", fmt.Sprintf("layer %d (base ", len(baseLayers)), tc.path, "hint:", tc.lambdaErr} {
				assert.Contains(t, msg, want)
			}
		})
	}
}

// rawLayer is a base layer exactly as another tool may have written it:
// these bytes, this media type, this declared diffID, whatever they are.
type rawLayer struct {
	blob   []byte
	mt     types.MediaType
	diffID v1.Hash
}

func (l rawLayer) Digest() (v1.Hash, error) {
	h, _, err := v1.SHA256(bytes.NewReader(l.blob))
	return h, err
}
func (l rawLayer) DiffID() (v1.Hash, error)            { return l.diffID, nil }
func (l rawLayer) Size() (int64, error)                { return int64(len(l.blob)), nil }
func (l rawLayer) MediaType() (types.MediaType, error) { return l.mt, nil }
func (l rawLayer) Compressed() (io.ReadCloser, error) {
	return io.NopCloser(bytes.NewReader(l.blob)), nil
}
func (l rawLayer) Uncompressed() (io.ReadCloser, error) { return nil, errors.New("not needed") }

// Invalid bases are refused with what is wrong (issue 16 #4): diff_ids that
// do not name the layers' content, zstd or plain tar labelled tar+gzip, a
// Docker layer type in an OCI manifest.
func TestBuildRefusesInvalidBases(t *testing.T) {
	files := []basegen.File{d("srv/"), f("srv/data.txt", 0o644, "data\n")}
	gz, err := basegen.TarGz(files, basegen.Created)
	require.NoError(t, err)
	tarBytes := mustGunzip(t, gz)
	tarDigest, _, err := v1.SHA256(bytes.NewReader(tarBytes))
	require.NoError(t, err)
	enc, err := zstd.NewWriter(nil)
	require.NoError(t, err)
	zst := enc.EncodeAll(tarBytes, nil)
	wrong, _, err := v1.SHA256(strings.NewReader("something else"))
	require.NoError(t, err)

	for _, tc := range []struct {
		name  string
		layer rawLayer
		rule  string
		want  string
	}{
		{"diff_id not the content", rawLayer{gz, types.OCILayer, wrong}, checks.RuleDiffIDs, "does not match"},
		{"zstd labelled gzip", rawLayer{zst, types.OCILayer, tarDigest}, checks.RuleZstdLayer, "zstd-compressed"},
		{"plain tar labelled gzip", rawLayer{tarBytes, types.OCILayer, tarDigest}, checks.RuleUncompressedLayer, "uncompressed tar"},
		{"docker layer type in an OCI manifest", rawLayer{gz, types.DockerLayer, tarDigest}, checks.RuleMediaType, "gzip layers of the manifest's own family"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base, err := mutate.Append(baseImage(t, "x86_64"), mutate.Addendum{Layer: tc.layer, MediaType: tc.layer.mt})
			require.NoError(t, err)
			_, err = tBuild(context.Background(), demoOpts(t, base))
			var ce *checks.Error
			require.ErrorAs(t, err, &ce)
			var rules []string
			for _, f := range ce.Findings {
				rules = append(rules, f.Rule)
			}
			assert.Contains(t, rules, tc.rule)
			assert.Contains(t, err.Error(), tc.want)
			assert.Contains(t, err.Error(), "layer 3 (base ")
		})
	}

	// More diff_ids than layers.
	base := baseImage(t, "x86_64")
	cf, err := base.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.RootFS.DiffIDs = append(cf.RootFS.DiffIDs, wrong)
	extra, err := mutate.ConfigFile(base, cf)
	require.NoError(t, err)
	_, err = tBuild(context.Background(), demoOpts(t, extra))
	require.Error(t, err)
	assert.Contains(t, err.Error(), "diff_ids")
}

func mustGunzip(t *testing.T, b []byte) []byte {
	t.Helper()
	zr, err := gzip.NewReader(bytes.NewReader(b))
	require.NoError(t, err)
	out, err := io.ReadAll(zr)
	require.NoError(t, err)
	return out
}

// declaringZip is a small zip whose central directory declares n bytes for
// its one stored entry: what a zip holds is known without inflating it.
func declaringZip(t *testing.T, name string, n uint64) string {
	t.Helper()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: "data.bin", Method: zip.Store, CompressedSize64: 4, UncompressedSize64: n, CRC32: 0})
	require.NoError(t, err)
	_, err = w.Write([]byte("data"))
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, buf.Bytes(), 0o644))
	return p
}

// Issue 16 #7: the size budget is checked across inputs before any is
// converted. Three zips declaring 1.2 GiB each against a 2 GiB limit —
// each under the limit on its own — are refused before the base is
// fetched (the base reference names nothing) and before anything is
// converted (the cache stays empty). The old build converted them one by
// one (23.5 s and 2.7 GB of temporary layers for this case).
func TestBuildRefusesDeclaredSizesBeforeConverting(t *testing.T) {
	cache := t.TempDir()
	spec := Spec{
		Base: "oci:" + filepath.Join(t.TempDir(), "no-such-layout"), Arch: "x86_64", Handler: "app.handler",
		Layers: []Source{
			{Path: declaringZip(t, "a.zip", 1200<<20)},
			{Path: declaringZip(t, "b.zip", 1200<<20)},
		},
		Code:    Source{Path: declaringZip(t, "code.zip", 1200<<20)},
		MaxSize: 2 << 30, Created: fixedTime,
	}
	_, err := Build(context.Background(), spec, Options{CacheDir: cache})
	var se *checks.SizeError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, int64(3*1200<<20), se.Total)
	assert.Contains(t, err.Error(), "b.zip (declared size: refused before conversion)")
	assert.Contains(t, err.Error(), "the base is not counted")
	entries, err := os.ReadDir(cache)
	require.NoError(t, err)
	assert.Empty(t, entries, "nothing converted, nothing listed")
}

// Issue 16 #3: a base read from an OCI layout is verified, whatever its
// source: a layer blob whose bytes do not match its digest (same size, or
// longer) refuses the build, naming the digest, instead of going into the
// output as if genuine.
func TestBuildVerifiesLayoutBaseBlobs(t *testing.T) {
	for _, tc := range []struct {
		name    string
		corrupt func([]byte) []byte
	}{
		{"same size", func(b []byte) []byte { b[len(b)/2] ^= 0xff; return b }},
		{"longer", func(b []byte) []byte { return append(b, 0) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "base")
			require.NoError(t, os.CopyFS(dir, os.DirFS("../testdata/base")))
			idx, err := layout.ImageIndexFromPath(dir)
			require.NoError(t, err)
			im, err := idx.IndexManifest()
			require.NoError(t, err)
			sub, err := idx.ImageIndex(im.Manifests[0].Digest)
			var img v1.Image
			if err == nil {
				sm, err := sub.IndexManifest()
				require.NoError(t, err)
				img, err = sub.Image(sm.Manifests[0].Digest)
				require.NoError(t, err)
			} else {
				img, err = idx.Image(im.Manifests[0].Digest)
				require.NoError(t, err)
			}
			m, err := img.Manifest()
			require.NoError(t, err)
			bad := m.Layers[0].Digest
			p := filepath.Join(dir, "blobs", bad.Algorithm, bad.Hex)
			require.NoError(t, os.Chmod(p, 0o644))
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, tc.corrupt(b), 0o644))

			spec := Spec{Base: "oci:" + dir + ":latest", Arch: "x86_64", Handler: "app.handler",
				Layers: []Source{{Path: "../testdata/demo/layer.zip"}}, Code: Source{Path: "../testdata/demo/code"}, Created: fixedTime}
			_, err = Build(context.Background(), spec, Options{})
			require.Error(t, err)
			assert.Contains(t, err.Error(), bad.String())
			assert.Contains(t, err.Error(), "does not match")
		})
	}
}
