package build

import (
	"archive/tar"
	"context"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

// record is a dist-info RECORD listing files (hashes and sizes omitted,
// as pip leaves them for RECORD itself).
func record(files ...string) string {
	var b strings.Builder
	for _, f := range files {
		b.WriteString(f + ",,\n")
	}
	return b.String()
}

var (
	nodeCode = []basegen.File{
		f("index.js", 0o644, "exports.handler = async () => require('ms')('1s');\n"),
		f("node_modules/ms/index.js", 0o644, "module.exports = () => 1000;\n"),
		f("node_modules/ms/package.json", 0o644, `{"name":"ms","main":"index.js"}`),
	}
	pythonCode = []basegen.File{
		f("app.py", 0o644, "import six\ndef handler(e, c):\n    return 1\n"),
		f("six.py", 0o644, "x = 1\n"),
		f("six-1.16.0.dist-info/METADATA", 0o644, "Name: six\n"),
		f("six-1.16.0.dist-info/RECORD", 0o644, record("six.py", "six-1.16.0.dist-info/METADATA", "six-1.16.0.dist-info/RECORD", "../../bin/six-tool")),
		f("bin/six-tool", 0o755, "#!/bin/sh\n"),
	}
	rubyCode = []basegen.File{
		f("function.rb", 0o644, "def handler(event:, context:) 1 end\n"),
		f("vendor/bundle/ruby/3.3.0/gems/json-2.7.0/lib/json.rb", 0o644, "module JSON; end\n"),
	}
	javaCode = []basegen.File{
		f("com/example/Handler.class", 0o644, "\xca\xfe\xba\xbe"),
		f("lib/dep-1.0.jar", 0o644, "PK\x05\x06"+strings.Repeat("\x00", 18)),
	}
)

// planCode decides the split; every layout it knows, and every way a
// layout is ambiguous (then one layer, and why).
func TestPlanCode(t *testing.T) {
	for _, tc := range []struct {
		name    string
		files   []basegen.File
		handler string
		layout  string   // "" for one layer
		deps    []string // the selection
		nfiles  int
		why     string // substring of the reason for one layer
	}{
		{name: "node_modules", files: nodeCode, handler: "index.handler", layout: "node_modules/", deps: []string{"node_modules"}, nfiles: 2},
		{name: "python dist-info, script outside the code stays", files: pythonCode, handler: "app.handler", layout: "Python *.dist-info",
			deps: []string{"six-1.16.0.dist-info", "six.py"}, nfiles: 3},
		{name: "vendor", files: rubyCode, handler: "function.handler", layout: "vendor/", deps: []string{"vendor"}, nfiles: 1},
		{name: "java lib jars", files: javaCode, handler: "com.example.Handler::handleRequest", layout: "lib/*.jar", deps: []string{"lib/dep-1.0.jar"}, nfiles: 1},
		{name: "plain code", files: []basegen.File{f("app.py", 0o644, "x")}, handler: "app.handler"},
		{name: "two layouts", files: append(append([]basegen.File{}, nodeCode...), f("vendor/x.rb", 0o644, "x")), handler: "index.handler",
			why: "more than one layout (node_modules/, vendor/)"},
		{name: "handler module among the dependencies", files: []basegen.File{
			f("app.py", 0o644, "x"), f("app-1.0.dist-info/RECORD", 0o644, record("app.py", "app-1.0.dist-info/RECORD")),
		}, handler: "app.handler", why: "app.py could be the handler's module"},
		{name: "handler module in a package among the dependencies", files: append(append([]basegen.File{}, nodeCode...),
			f("node_modules/srv/index.js", 0o644, "x")), handler: "node_modules/srv/index.handler", why: "could be the handler's module"},
		{name: "handler class only in a jar", files: []basegen.File{f("lib/app.jar", 0o644, "x"), f("lib/dep.jar", 0o644, "x")},
			handler: "com.example.Handler::handleRequest", why: "is not among the application files"},
		{name: "dist-info without RECORD", files: []basegen.File{f("app.py", 0o644, "x"), f("six-1.0.dist-info/METADATA", 0o644, "x")},
			handler: "app.handler", why: "six-1.0.dist-info has no RECORD"},
		{name: "empty node_modules", files: []basegen.File{f("index.js", 0o644, "x"), d("node_modules/")}, handler: "index.handler",
			why: "no dependency file"},
		{name: "lib without jars is no layout", files: []basegen.File{f("app.py", 0o644, "x"), f("lib/util.py", 0o644, "x")}, handler: "app.handler"},
		{name: "nested node_modules is no layout", files: []basegen.File{f("index.js", 0o644, "x"), f("src/node_modules/a.js", 0o644, "x")}, handler: "index.handler"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, src := range []string{writeZip(t, "code.zip", tc.files...), writeDir(t, tc.files...)} {
				plan, why, err := planCode(context.Background(), src, "/var/task", tc.handler, 1<<30)
				require.NoError(t, err)
				if tc.layout == "" {
					assert.Nil(t, plan.deps, "one layer")
					if tc.why == "" {
						assert.Empty(t, why)
					} else {
						assert.Contains(t, why, tc.why)
					}
					continue
				}
				assert.Empty(t, why)
				require.NotNil(t, plan.deps)
				assert.Equal(t, tc.layout, plan.layout)
				assert.ElementsMatch(t, tc.deps, plan.deps.Paths)
				assert.False(t, plan.deps.Exclude)
				assert.Equal(t, tc.nfiles, plan.files)
			}
		})
	}
}

// mergedCode applies the image's added code layers in order, the way an
// unpacker does: the tree the function sees at the task root (type,
// mode, link, mtime and content of every entry).
func mergedCode(t *testing.T, res *Result) map[string]string {
	t.Helper()
	ls, err := res.AddedLayers()
	require.NoError(t, err)
	out := map[string]string{}
	for i, l := range ls {
		k := res.Layers[len(res.Layers)-len(ls)+i].Kind
		if k != kindCode && k != kindCodeDeps {
			continue
		}
		rc, err := l.Uncompressed()
		require.NoError(t, err)
		tr := tar.NewReader(rc)
		for {
			h, err := tr.Next()
			if err == io.EOF {
				break
			}
			require.NoError(t, err)
			body, err := io.ReadAll(tr)
			require.NoError(t, err)
			out[strings.TrimSuffix(h.Name, "/")] = fmt.Sprintf("%c %o %q %s %d %d %q", h.Typeflag, h.Mode, h.Linkname, h.ModTime.UTC(), h.Uid, h.Gid, body)
		}
		rc.Close()
	}
	return out
}

// A build splits vendored code into a dependency layer then an
// application layer, on by default, with the tree of the one-layer build
// (--code-layers 1), the handler check passing, and the history naming
// both; the code zip and the directory give the same layers.
func TestBuildSplitsVendoredCode(t *testing.T) {
	for _, tc := range []struct {
		name, runtime, handler string
		files                  []basegen.File
	}{
		{"nodejs", "nodejs22.x", "index.handler", nodeCode},
		{"python", "python3.12", "app.handler", pythonCode},
		{"ruby", "ruby3.3", "function.handler", rubyCode},
		{"java", "java21", "com.example.Handler::handleRequest", javaCode},
	} {
		t.Run(tc.name, func(t *testing.T) {
			build := func(src string, codeLayers int) *Result {
				opts := demoOpts(t, baseImage(t, "x86_64"))
				opts.Runtime, opts.Handler = tc.runtime, tc.handler
				opts.Code = Source{Path: src, Name: "code"}
				spec := Spec{BaseImage: opts.Base, Arch: opts.Arch, Runtime: opts.Runtime, Layers: opts.Layers, Code: opts.Code,
					Handler: opts.Handler, Created: opts.Created, CodeLayers: codeLayers}
				res, err := Build(context.Background(), spec, Options{})
				require.NoError(t, err)
				t.Cleanup(func() { _ = res.Close() })
				return res
			}
			zipped := writeZip(t, "code.zip", tc.files...)
			split, one := build(zipped, 0), build(zipped, 1)
			n := len(split.Layers)
			require.Equal(t, len(one.Layers)+1, n)
			assert.Equal(t, kindCodeDeps, split.Layers[n-2].Kind)
			assert.Equal(t, kindCode, split.Layers[n-1].Kind)
			assert.Equal(t, kindCode, one.Layers[len(one.Layers)-1].Kind)
			assert.Equal(t, mergedCode(t, one), mergedCode(t, split), "the same tree at the task root")
			assert.NotEqual(t, one.Digest, split.Digest)

			cf, err := split.Image.ConfigFile()
			require.NoError(t, err)
			h := cf.History[len(cf.History)-2:]
			assert.Contains(t, h[0].CreatedBy, "function code dependencies code at /var/task ("+split.Layers[n-2].Digest.String())
			assert.Contains(t, h[1].CreatedBy, "function code code at /var/task ("+split.Layers[n-1].Digest.String())

			dir := build(writeDir(t, tc.files...), 2)
			// The same layers; the images differ only in the provenance,
			// which names a zip by its sha256 and a directory by its tree
			// hash.
			require.Len(t, dir.Layers, len(split.Layers))
			for i := range split.Layers {
				assert.Equal(t, split.Layers[i].Digest, dir.Layers[i].Digest, "zip and directory give the same layer %d", i)
			}
		})
	}
}

// A one-line handler edit leaves the dependency layer's digest as it was,
// so only the application layer (and config, manifest) is new.
func TestBuildSplitHandlerEditKeepsDependencyLayer(t *testing.T) {
	build := func(handlerBody string) *Result {
		files := append([]basegen.File{f("index.js", 0o644, handlerBody)}, nodeCode[1:]...)
		for i := range 50 {
			files = append(files, f("node_modules/big/f"+strings.Repeat("x", i%7)+string(rune('a'+i%26))+".js", 0o644, strings.Repeat("y", 4096+i)))
		}
		opts := demoOpts(t, baseImage(t, "x86_64"))
		opts.Runtime, opts.Handler = "nodejs22.x", "index.handler"
		opts.Code = Source{Path: writeZip(t, "code.zip", files...), Name: "code.zip"}
		return mustBuild(t, opts)
	}
	a := build("exports.handler = async () => 1;\n")
	b := build("exports.handler = async () => 2;\n")
	n := len(a.Layers)
	assert.Equal(t, a.Layers[n-2].Digest, b.Layers[n-2].Digest, "dependency layer unchanged")
	assert.NotEqual(t, a.Layers[n-1].Digest, b.Layers[n-1].Digest, "application layer new")
	assert.Less(t, b.Layers[n-1].Size, int64(1024), "the edit is a layer of bytes")
	assert.Greater(t, b.Layers[n-2].UncompressedSize, int64(200<<10))
}

func TestBuildCodeLayersOption(t *testing.T) {
	opts := demoOpts(t, baseImage(t, "x86_64"))
	spec := Spec{BaseImage: opts.Base, Arch: opts.Arch, Code: opts.Code, Handler: opts.Handler, CodeLayers: 3}
	_, err := Build(context.Background(), spec, Options{})
	assert.ErrorContains(t, err, "code layers 3")
}

// Conversions of a split are shared by selection: a fleet of two functions
// with the same vendored code converts its two layers once.
func TestSharedConvertsSplitOnce(t *testing.T) {
	sh := NewShared()
	defer sh.Close()
	code := writeZip(t, "code.zip", nodeCode...)
	var digests []string
	for range 2 {
		opts := demoOpts(t, baseImage(t, "x86_64"))
		spec := Spec{BaseImage: opts.Base, Arch: opts.Arch, Runtime: "nodejs22.x", Code: Source{Path: code}, Handler: "index.handler", Created: fixedTime}
		res, err := Build(context.Background(), spec, Options{Shared: sh})
		require.NoError(t, err)
		digests = append(digests, res.Digest.String())
		require.NoError(t, res.Close())
	}
	assert.Equal(t, digests[0], digests[1])
	assert.Equal(t, int64(2), sh.Stats().Conversions, "dependencies and application, once each")
}
