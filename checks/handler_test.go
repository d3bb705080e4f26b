package checks

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/layerconv"
)

func jar(t testing.TB, classes ...string) string {
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	for _, c := range append([]string{"META-INF/MANIFEST.MF"}, classes...) {
		w, err := zw.Create(c)
		require.NoError(t, err)
		if !strings.HasSuffix(c, "/") {
			_, err = w.Write([]byte("x"))
			require.NoError(t, err)
		}
	}
	require.NoError(t, zw.Close())
	return b.String()
}

// Facts are recorded the same way by layerconv while it writes a layer and
// by ReadLayer while it streams one, fresh and from layerconv's cache.
func TestFactsRecordedBothWays(t *testing.T) {
	files := []basegen.File{
		testutil.F("java/lib/fn.jar", 0o644, jar(t, "example/Handler.class", "example/Handler$1.class", "example/")),
		testutil.F("lib/app.jar", 0o644, jar(t, "app/Main.class")),
		testutil.F("nodejs/node_modules/pkg/package.json", 0o644, `{"main": "dist/x.js", "type": "module"}`),
		testutil.F("nodejs/node_modules/bad/package.json", 0o644, `{"main": `),
		testutil.F("java/other.jar", 0o644, jar(t, "x/Y.class")),
	}
	ctx := context.Background()
	cache := t.TempDir()
	zipPath := testutil.WriteZip(t, "layer.zip", files...)
	dirPath := testutil.WriteDir(t, files...)
	for _, tc := range []struct {
		name, src, prefix string
		hit               bool
		want              map[string]*lambda.FileFacts
	}{
		{"zip", zipPath, "/opt", false, map[string]*lambda.FileFacts{
			"opt/java/lib/fn.jar":                      {Classes: []string{"example/Handler", "example/Handler$1"}},
			"opt/nodejs/node_modules/pkg/package.json": {Package: &lambda.PackageJSON{Main: "dist/x.js", Type: "module"}},
			"opt/nodejs/node_modules/bad/package.json": nil, // Unread: checked below
		}},
		{"zip from the cache", zipPath, "/opt", true, nil},
		// At the task root only lib/*.jar is on the class path; a
		// package.json counts anywhere.
		{"directory", dirPath, "/var/task", false, map[string]*lambda.FileFacts{
			"var/task/lib/app.jar":                          {Classes: []string{"app/Main"}},
			"var/task/nodejs/node_modules/pkg/package.json": {Package: &lambda.PackageJSON{Main: "dist/x.js", Type: "module"}},
			"var/task/nodejs/node_modules/bad/package.json": nil,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			res, err := layerconv.Convert(ctx, tc.src, layerconv.Options{Prefix: tc.prefix, CacheDir: cache, ModTime: testutil.FixedTime})
			require.NoError(t, err)
			defer res.Close()
			require.Equal(t, tc.hit, res.CacheHit)
			read, err := ReadLayer(ctx, res.Layer)
			require.NoError(t, err)
			assert.Equal(t, read, ListingFromIndex(res), "layerconv's index and a read of the layer agree, facts included")
			got := map[string]*lambda.FileFacts{}
			for _, e := range read.Entries {
				if e.Facts != nil {
					got[e.Path] = e.Facts
				}
			}
			for p, want := range tc.want {
				require.Contains(t, got, p)
				if want == nil {
					assert.NotEmpty(t, got[p].Unread, p)
					continue
				}
				assert.Equal(t, want, got[p], p)
			}
			if tc.want != nil {
				assert.Len(t, got, len(tc.want), "only wanted files carry facts: %v", got)
			}
		})
	}
}

// A jar above the bound is not buffered: only its first bytes are read
// (for the ELF check), and the record says why.
func TestReadFactsAboveBound(t *testing.T) {
	size := int64(lambda.MaxJarFacts + 1)
	r := strings.NewReader(strings.Repeat("x", 20))
	f, head, err := readFacts(r, "var/task/lib/big.jar", size)
	require.NoError(t, err)
	assert.Len(t, head, 20)
	assert.Contains(t, f.Unread, "above")
}

// handlerImage is a base whose LangBinDir holds lang (node, java,
// python3.12) with the given entries added in a second layer and CMD
// [handler].
func handlerImage(lang, handler string, added ...Entry) *Image {
	base := listing(dir("var"), dir("var/lang"), dir("var/lang/bin"), file("var/lang/bin/"+lang),
		dir("var/runtime"), Entry{Path: "var/runtime/bootstrap", Type: tar.TypeReg, Mode: 0o755},
		file("lambda-entrypoint.sh"), dir("opt"), dir("var/task"))
	code := listing(added...)
	return &Image{
		MediaType: types.OCIManifestSchema1,
		Config: &v1.ConfigFile{OS: "linux", Architecture: "amd64",
			Config: v1.Config{Entrypoint: []string{"/lambda-entrypoint.sh"}, Cmd: []string{handler}}},
		Layers: []Layer{
			{MediaType: types.OCILayer, Origin: Base, Listing: base},
			{MediaType: types.OCILayer, Origin: Added, Listing: code},
		},
	}
}

func handlerFindings(img *Image, cfg Config) []Finding {
	var out []Finding
	for _, f := range Run(img, cfg) {
		if f.Rule == RuleHandler {
			out = append(out, f)
		}
	}
	return out
}

// The handler rule through Run, on the cases of issue 18 (the lookups
// themselves are tested per family in package lambda).
func TestHandlerRule(t *testing.T) {
	withFacts := func(e Entry, f *lambda.FileFacts) Entry { e.Facts = f; return e }
	nodejs20 := Config{Family: lambda.NodeJS, Version: "20"}
	for _, tc := range []struct {
		name     string
		img      *Image
		cfg      Config
		severity Severity // -1: no finding
		lerr     string
		msg      string
	}{
		// The runtime reaches /opt only through require.resolve, which
		// never tries .mjs: Runtime.ImportModuleError at invoke.
		{"node mjs only in /opt", handlerImage("node", "layerfn.handler",
			dir("opt"), dir("opt/nodejs"), dir("opt/nodejs/node_modules"), file("opt/nodejs/node_modules/layerfn.mjs")),
			nodejs20, Refuse, lambda.ErrImportModule, "found /opt/nodejs/node_modules/layerfn.mjs: the runtime loads .mjs files only from the task root"},
		// require('/var/task/lib') loads the directory's index.js.
		{"node directory module", handlerImage("node", "lib.handler",
			dir("var"), dir("var/task"), dir("var/task/lib"), file("var/task/lib/index.js")),
			nodejs20, -1, "", ""},
		// The family comes from the base's LangBinDir when not configured.
		{"node family detected", handlerImage("node", "lib.handler", dir("var"), dir("var/task"), file("var/task/app.js")),
			Config{}, Refuse, lambda.ErrImportModule, `Cannot find module "lib"`},
		{"java class in a lib jar", handlerImage("java", "example.Handler::handleRequest",
			dir("var"), dir("var/task"), dir("var/task/lib"), withFacts(file("var/task/lib/fn.jar"), &lambda.FileFacts{Classes: []string{"example/Handler"}})),
			Config{}, -1, "", ""},
		{"java class missing", handlerImage("java", "example.Handler::handleRequest",
			dir("var"), dir("var/task"), dir("var/task/lib"), withFacts(file("var/task/lib/fn.jar"), &lambda.FileFacts{Classes: []string{"other/Handler"}})),
			Config{}, Refuse, lambda.ErrClassNotFound, "found class other.Handler in /var/task/lib/fn.jar"},
		// A jar whose classes were not read cannot rule the class out.
		{"java jar too large", handlerImage("java", "example.Handler",
			dir("var"), dir("var/task"), dir("var/task/lib"), withFacts(file("var/task/lib/fn.jar"), lambda.TooLargeFacts("var/task/lib/fn.jar", 1<<30))),
			Config{}, Warn, "", "not read"},
		// The image's PYTHONPATH replaces the /opt paths (lambda.md).
		{"python PYTHONPATH", func() *Image {
			img := handlerImage("python3.12", "lh.run", dir("opt"), dir("opt/python"), file("opt/python/lh.py"))
			img.Config.Config.Env = []string{"PYTHONPATH=/srv"}
			return img
		}(), Config{}, Refuse, lambda.ErrImportModule, "/var/task/lh.py"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fs := handlerFindings(tc.img, tc.cfg)
			if tc.severity < 0 {
				assert.Empty(t, fs)
				return
			}
			require.Len(t, fs, 1, "%v", fs)
			assert.Equal(t, tc.severity, fs[0].Severity)
			assert.Equal(t, tc.lerr, fs[0].LambdaError)
			assert.Contains(t, fs[0].Message, tc.msg)
		})
	}
}

// View answers lambda.FS with implied parent directories.
func TestViewFS(t *testing.T) {
	v := Merge([]*Listing{listing(dir("var"), file("var/task/a/b.js"), link("var/task/l", "a"))})
	f, ok := v.Lstat("/var/task")
	require.True(t, ok, "implied by var/task/a/b.js")
	assert.Equal(t, lambda.Dir, f.Type)
	f, ok = v.Lstat("/var/task/l")
	require.True(t, ok)
	assert.Equal(t, lambda.Symlink, f.Type)
	assert.Equal(t, "a", f.Link)
	_, ok = v.Lstat("/var/tas")
	assert.False(t, ok)
	assert.Equal(t, []string{"a", "l"}, v.ReadDir("/var/task"))
	assert.Equal(t, []string{"var"}, v.ReadDir("/"))
	var walked []string
	v.WalkUnder("/var/task", func(p string, _ lambda.File) { walked = append(walked, p) })
	assert.Equal(t, []string{"/var/task/a/b.js", "/var/task/l"}, walked)
}
