package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/registry"
)

const (
	fixtureBase = "oci:../../testdata/base:latest"
	demoLayer   = "../../testdata/demo/layer.zip"
	demoCode    = "../../testdata/demo/code"
)

// demoDigest pins `make demo` (the README's first command): the testdata
// base, the demo layer and code, no SOURCE_DATE_EPOCH. It changes only when
// the fixtures, layerconv's output or the builder's config change.
const demoDigest = "sha256:b4b9d56cba43fab7a1be53df3e496941077777817835cade8ab291c1d60d5a2a"

func demoArgs(extra ...string) []string {
	return append([]string{"build", "--base", fixtureBase, "--arch", "x86_64",
		"--layer", demoLayer, "--code", demoCode, "--handler", "app.handler"}, extra...)
}

// cacheEnv points the default cache at a temp dir so tests never touch ~/.cache.
func cacheEnv(t *testing.T) map[string]string {
	return map[string]string{"LAMBDA_OCI_CACHE_DIR": t.TempDir()}
}

// layoutImage reads the image named refName out of an OCI layout and
// validates it (every blob present, digests and sizes right).
func layoutImage(t *testing.T, dir, refName string) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	require.NoError(t, err)
	idx, err := p.ImageIndex()
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	for _, d := range im.Manifests {
		if d.Annotations["org.opencontainers.image.ref.name"] == refName {
			require.True(t, d.MediaType.IsImage(), "an image manifest, never an index: %s", d.MediaType)
			img, err := idx.Image(d.Digest)
			require.NoError(t, err)
			require.NoError(t, validate.Image(img))
			return img
		}
	}
	t.Fatalf("no image named %q in %s: %+v", refName, dir, im.Manifests)
	return nil
}

var refRE = regexp.MustCompile(`^localhost/lambda-function@sha256:[0-9a-f]{64}\n$`)

func TestBuildDemoJSON(t *testing.T) {
	out := filepath.Join(t.TempDir(), "demo")
	code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--oci-layout", out, "--json")...)
	require.Equal(t, 0, code, stderr)
	var res buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.Equal(t, "localhost/lambda-function@"+res.Digest, res.Reference)
	assert.Equal(t, demoDigest, res.Digest)
	assert.Equal(t, "linux/amd64", res.Platform)
	assert.Equal(t, string(types.OCIManifestSchema1), res.MediaType)
	require.Len(t, res.Layers, 4)
	assert.Equal(t, []string{"base", "base", "layer", "code"}, []string{res.Layers[0].Kind, res.Layers[1].Kind, res.Layers[2].Kind, res.Layers[3].Kind})
	assert.Equal(t, "layer.zip", res.Layers[2].Source)
	assert.Equal(t, demoLayer, res.Layers[2].Path)
	var sum, usum int64
	for _, l := range res.Layers {
		assert.Positive(t, l.Size)
		assert.Greater(t, l.UncompressedSize, l.Size/2)
		sum += l.Size
		usum += l.UncompressedSize
	}
	assert.Equal(t, sum, res.Size)
	assert.Equal(t, usum, res.UncompressedSize)
	assert.Empty(t, res.Warnings)

	img := layoutImage(t, out, "localhost/lambda-function:latest")
	require.NoError(t, validate.Image(img))
	d, err := img.Digest()
	require.NoError(t, err)
	assert.Equal(t, res.Digest, d.String())
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, []string{"app.handler"}, cf.Config.Cmd)
	assert.Equal(t, []string{"/lambda-entrypoint.sh"}, cf.Config.Entrypoint)

	// Logs on stderr, nothing but the result on stdout.
	assert.Contains(t, stderr, "wrote OCI layout")
	assert.NotContains(t, stdout, "lambda-oci:")
}

func TestBuildPrintsOnlyReferenceAndIsReproducible(t *testing.T) {
	env := cacheEnv(t)
	var refs []string
	for i := range 3 {
		args := demoArgs("--oci-layout", filepath.Join(t.TempDir(), "o"))
		if i == 2 {
			args = append(args, "--no-cache")
		}
		code, stdout, stderr := runCmd(t, env, args...)
		require.Equal(t, 0, code, stderr)
		assert.Regexp(t, refRE, stdout)
		refs = append(refs, stdout)
	}
	assert.Equal(t, refs[0], refs[1], "warm cache, same digest")
	assert.Equal(t, refs[0], refs[2], "no cache, same digest")
	assert.Equal(t, "localhost/lambda-function@"+demoDigest+"\n", refs[0])

	// SOURCE_DATE_EPOCH (read through the app's environment) moves the digest.
	env["SOURCE_DATE_EPOCH"] = "1700000000"
	out := filepath.Join(t.TempDir(), "o")
	code, stdout, stderr := runCmd(t, env, demoArgs("--oci-layout", out)...)
	require.Equal(t, 0, code, stderr)
	assert.NotEqual(t, refs[0], stdout)
	cf, err := layoutImage(t, out, "localhost/lambda-function:latest").ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, int64(1700000000), cf.Created.Unix())
}

func TestBuildArm64AndTarball(t *testing.T) {
	dir := t.TempDir()
	tb := filepath.Join(dir, "fn.tar")
	args := []string{"build", "--base", fixtureBase, "--arch", "arm64", "--layer", demoLayer,
		"--code", demoCode, "--handler", "app.handler", "--tarball", tb, "--json", "--no-cache"}
	code, stdout, stderr := runCmd(t, nil, args...)
	require.Equal(t, 0, code, stderr)
	var res buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.Equal(t, "linux/arm64", res.Platform)

	want, err := basegen.Image("arm64")
	require.NoError(t, err)
	wl, err := want.Layers()
	require.NoError(t, err)
	for i, l := range wl {
		dg, err := l.Digest()
		require.NoError(t, err)
		assert.Equal(t, dg.String(), res.Layers[i].Digest, "arm64 base layer %d", i)
	}

	ref, err := name.NewTag("localhost/lambda-function:latest")
	require.NoError(t, err)
	img, err := tarball.ImageFromPath(tb, &ref)
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "arm64", cf.Architecture)
}

// writeDockerBase writes the testdata base with Docker media types to a
// layout (not committed: generated per test).
func writeDockerBase(t *testing.T) string {
	t.Helper()
	idx, err := basegen.DockerIndex()
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "dockerbase")
	require.NoError(t, basegen.WriteLayout(dir, idx, "latest"))
	return "oci:" + dir + ":latest"
}

func TestBuildDockerBaseKeepsDockerTypes(t *testing.T) {
	out := filepath.Join(t.TempDir(), "o")
	code, stdout, stderr := runCmd(t, cacheEnv(t), "build", "--base", writeDockerBase(t), "--layer", demoLayer,
		"--code", demoCode, "--handler", "app.handler", "--oci-layout", out, "--json")
	require.Equal(t, 0, code, stderr)
	var res buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.Equal(t, string(types.DockerManifestSchema2), res.MediaType)
	img := layoutImage(t, out, "localhost/lambda-function:latest")
	require.NoError(t, validate.Image(img))
	m, err := img.Manifest()
	require.NoError(t, err)
	assert.Equal(t, types.DockerManifestSchema2, m.MediaType)
	assert.Equal(t, types.DockerConfigJSON, m.Config.MediaType)
	for _, l := range m.Layers {
		assert.Equal(t, types.DockerLayer, l.MediaType)
	}
}

func TestBuildRefusals(t *testing.T) {
	var mu sync.Mutex
	requests := &[]string{}
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v2/" {
			mu.Lock()
			*requests = append(*requests, r.Method+" "+r.URL.Path)
			mu.Unlock()
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	bigZip := filepath.Join(t.TempDir(), "big.zip")
	require.NoError(t, os.WriteFile(bigZip, testutil.Zip(t, testutil.F("data/big.bin", 0o644, strings.Repeat("x", 200_000))), 0o644))
	for _, tc := range []struct {
		name string
		args []string
		want []string
	}{
		{"no output", demoArgs(), []string{"missing required flag: an output: --oci-layout DIR, --tarball FILE and/or --tag REF"}},
		{"over max size", demoArgs("--max-size", "4KiB"), []string{"over the limit", "UNCOMPRESSED", "layer.zip", "sha256:"}},
		// One input over the limit with the base: the same table (base rows
		// measured, the refused zip's declared size), not the converter's
		// bare refusal.
		{"one layer over max size", demoArgs("--layer", bigZip, "--max-size", "205KB"),
			[]string{"over the limit of 200 KiB", "UNCOMPRESSED", "base oci:../../testdata/base:latest", "sha256:",
				"big.zip (declared size: refused before conversion)", "code (declared size: not converted)"}},
		// The inputs alone over the limit: refused before the base is read.
		{"inputs over max size", demoArgs("--layer", bigZip, "--max-size", "100KB"),
			[]string{"over the limit of 98 KiB", "big.zip (declared size: refused before conversion)", "the base is not counted"}},
		{"missing handler module", []string{"build", "--base", fixtureBase, "--code", demoCode, "--handler", "main.handler"},
			[]string{`"main.handler"`, "/var/task/main.py", "/opt/python/main.py"}},
		{"bad arch", demoArgs("--arch", "sparc"), []string{`"sparc"`, "x86_64, arm64"}},
		{"deprecated runtime", []string{"build", "--runtime", "python3.8", "--code", demoCode, "--handler", "app.handler"},
			[]string{"deprecated", "python3.12"}},
		{"no base", []string{"build", "--code", demoCode, "--handler", "app.handler"}, []string{"missing required flag: --runtime ID or --base REF"}},
		{"no handler", []string{"build", "--base", fixtureBase, "--code", demoCode}, []string{"missing required flag: --handler HANDLER"}},
		{"bad env", demoArgs("--env", "NOPE"), []string{`"NOPE"`}},
		{"bad max size", demoArgs("--max-size", "lots"), []string{"--max-size", "lots"}},
		{"missing base tag", []string{"build", "--base", "oci:../../testdata/base:nope", "--code", demoCode, "--handler", "app.handler"}, []string{"nope"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			lay, tb := filepath.Join(dir, "layout"), filepath.Join(dir, "img.tar")
			tag := host + "/refused/" + strings.ReplaceAll(tc.name, " ", "-") + ":1"
			args := tc.args
			if tc.name != "no output" {
				args = append(args, "--oci-layout", lay, "--tarball", tb, "--tag", tag)
			}
			code, stdout, stderr := runCmd(t, cacheEnv(t), args...)
			assert.Equal(t, wantCode(tc.name, map[string]int{
				"no output": exitUsage, "bad arch": exitUsage, "no base": exitUsage, "no handler": exitUsage, "bad max size": exitUsage,
				"over max size": exitNotReady, "one layer over max size": exitNotReady, "inputs over max size": exitNotReady, "missing handler module": exitNotReady,
			}), code)
			assert.Empty(t, stdout)
			for _, w := range tc.want {
				assert.Contains(t, stderr, w)
			}
			assert.True(t, strings.HasPrefix(stderr, "lambda-oci: ") || strings.Contains(stderr, "\nlambda-oci: "), stderr)
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "nothing written on failure")
			ref, err := name.ParseReference(tag)
			require.NoError(t, err)
			_, err = remote.Head(ref)
			assert.Error(t, err, "nothing pushed on failure")
		})
	}
	// Only reads reached the registry — the tag's previous image, looked
	// up as the registry cache, and the HEADs of the checks above — and
	// blobs, which may be uploaded while a build runs (base layers,
	// converted inputs): no refused build put a manifest or a tag.
	for _, r := range *requests {
		assert.False(t, strings.HasPrefix(r, "PUT ") && strings.Contains(r, "/manifests/"), "a refused build puts no manifest: %s", r)
	}
}

// --runtime with --base: the runtime only picks the handler convention.
func TestBuildRuntimeWithBase(t *testing.T) {
	code, _, stderr := runCmd(t, cacheEnv(t), "build", "--runtime", "nodejs22.x", "--base", fixtureBase,
		"--code", demoCode, "--handler", "app.handler", "--oci-layout", filepath.Join(t.TempDir(), "o"))
	assert.Equal(t, exitNotReady, code)
	assert.Contains(t, stderr, "/var/task/app.{js,mjs,cjs}")
}

func TestBuildWarningsGoToStderr(t *testing.T) {
	code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--env", "PYTHONPATH=/var/task/lib", "--env", "AWS_REGION=x",
		"--oci-layout", filepath.Join(t.TempDir(), "o"))...)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, refRE, stdout)
	assert.Contains(t, stderr, "warning: PYTHONPATH is set while layers are present")
	assert.Contains(t, stderr, "warning: AWS_REGION is reserved")
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"10GiB": 10737418240, "10 GiB": 10737418240, "500MB": 500e6, "1024": 1024, "1.5KiB": 1536, "2gb": 2e9, "7B": 7, "2.0": 2, "0.5KB": 500,
	} {
		got, err := parseSize(in)
		require.NoError(t, err, in)
		assert.Equal(t, want, got, in)
	}
	for _, bad := range []string{"", "GiB", "-1", "0", "ten", "1e30GiB", "1.5", "0.5B", "1.0001KB", "+5", "1/2KiB", "99999999999TiB"} {
		_, err := parseSize(bad)
		assert.Error(t, err, bad)
	}
}

// Push to go-containerregistry's in-process registry and to Debian's
// docker-registry on loopback (plain HTTP); the pushed manifest is the one
// built, under every tag.
func TestBuildPush(t *testing.T) {
	push := func(t *testing.T, host string) {
		tags := []string{host + "/fn/demo:1", host + "/fn/demo:latest"}
		code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--tag", tags[0], "--tag", tags[1])...)
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, host+"/fn/demo@"+demoDigest+"\n", stdout)
		for _, tg := range tags {
			ref, err := name.ParseReference(tg)
			require.NoError(t, err)
			img, err := remote.Image(ref)
			require.NoError(t, err)
			d, err := img.Digest()
			require.NoError(t, err)
			assert.Equal(t, demoDigest, d.String(), tg)
			require.NoError(t, validate.Image(img))
		}
		// Again with --json: every blob is already there; the JSON says so
		// per layer and lists the pushed reference.
		code, stdout, stderr = runCmd(t, cacheEnv(t), demoArgs("--tag", tags[0], "--json", "--quiet")...)
		require.Equal(t, 0, code, stderr)
		var res buildOutput
		require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
		assert.Equal(t, []string{host + "/fn/demo@" + demoDigest}, res.Pushed)
		assert.Equal(t, host+"/fn/demo@"+demoDigest, res.Reference)
		for _, l := range res.Layers {
			assert.Equal(t, registry.StatusExists, l.Push, l.Digest)
		}
		assert.Equal(t, registry.StatusExists, res.ConfigPush)
	}
	t.Run("in-process", func(t *testing.T) {
		srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
		t.Cleanup(srv.Close)
		push(t, strings.TrimPrefix(srv.URL, "http://"))
	})
	t.Run("docker-registry", func(t *testing.T) {
		push(t, testregistry.Start(t, testregistry.Options{}).Host)
	})
}

// A run stopped by a signal says "interrupted", not "context canceled".
func TestInterruptedMessage(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cancel func(context.CancelCauseFunc)
		want   string
	}{
		{"signal", func(c context.CancelCauseFunc) { c(errors.New("interrupt signal received")) }, "lambda-oci: interrupted (interrupt signal received)\n"},
		{"plain cancel", func(c context.CancelCauseFunc) { c(nil) }, "lambda-oci: interrupted\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ctx, cancel := context.WithCancelCause(context.Background())
			tc.cancel(cancel)
			var stdout, stderr bytes.Buffer
			a := &app{stdout: &stdout, stderr: &stderr, getenv: func(string) string { return "" }}
			out := filepath.Join(t.TempDir(), "o")
			code := run(ctx, demoArgs("--no-cache", "--oci-layout", out), a)
			assert.Equal(t, exitInterrupted, code)
			assert.Empty(t, stdout.String())
			assert.Equal(t, tc.want, stderr.String()[strings.LastIndex(stderr.String(), "lambda-oci: "):])
			assert.NoDirExists(t, out)
		})
	}
	// Not cancelled: the error itself, even when it wraps context.Canceled.
	assert.Equal(t, "x: context canceled", describeFailure(context.Background(), fmt.Errorf("x: %w", context.Canceled)))
}

// Output paths are checked before anything is fetched or written.
func TestBuildRefusesBadOutputPaths(t *testing.T) {
	for _, tc := range []struct {
		name    string
		prepare func(t *testing.T, dir string)
		args    []string // DIR is replaced by the test's directory
		want    []string
	}{
		{"tarball is a directory", func(t *testing.T, dir string) { require.NoError(t, os.Mkdir(filepath.Join(dir, "t2"), 0o755)) },
			[]string{"--oci-layout", "DIR/t1", "--tarball", "DIR/t2"}, []string{"--tarball DIR/t2: is a directory"}},
		{"layout is a file", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "t1"), []byte("precious"), 0o644))
		},
			[]string{"--oci-layout", "DIR/t1", "--tarball", "DIR/t2"}, []string{"--oci-layout DIR/t1: exists and is not a directory"}},
		{"layout is a non-layout directory", func(t *testing.T, dir string) {
			require.NoError(t, os.MkdirAll(filepath.Join(dir, "t1"), 0o755))
			require.NoError(t, os.WriteFile(filepath.Join(dir, "t1", "file"), []byte("precious"), 0o644))
		}, []string{"--tarball", "DIR/t2", "--oci-layout", "DIR/t1/"}, []string{"--oci-layout DIR/t1: is a non-empty directory that is not an OCI layout"}},
		{"parent is a file", func(t *testing.T, dir string) {
			require.NoError(t, os.WriteFile(filepath.Join(dir, "f"), []byte("precious"), 0o644))
		},
			[]string{"--oci-layout", "DIR/t1", "--tarball", "DIR/f/sub/t2"}, []string{"--tarball DIR/f/sub/t2: parent DIR/f is not a directory"}},
		{"same path twice", nil, []string{"--oci-layout", "DIR/x", "--tarball", "DIR/x/"}, []string{"both name DIR/x"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if tc.prepare != nil {
				tc.prepare(t, dir)
			}
			before := listTree(t, dir)
			var args []string
			for _, a := range tc.args {
				args = append(args, strings.ReplaceAll(a, "DIR", dir))
			}
			code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs(args...)...)
			assert.Equal(t, exitUsage, code, "an output that cannot be written is a usage error")
			assert.Empty(t, stdout)
			for _, w := range tc.want {
				assert.Contains(t, stderr, strings.ReplaceAll(w, "DIR", dir))
			}
			assert.NotContains(t, stderr, "fetching base", "refused before the base is read")
			assert.Equal(t, before, listTree(t, dir), "nothing written, nothing removed")
		})
	}
}

// listTree maps every path under dir to its content ("" for directories).
func listTree(t *testing.T, dir string) map[string]string {
	t.Helper()
	out := map[string]string{}
	require.NoError(t, filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		if d.IsDir() {
			out[rel+"/"] = ""
			return nil
		}
		b, err := os.ReadFile(p)
		out[rel] = string(b)
		return err
	}))
	return out
}

// A trailing slash names the same directory; the directory itself is the
// writer's to create, only missing parents are made here.
func TestBuildLayoutTrailingSlash(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "a", "b", "demo") + "/"
	code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--oci-layout", out)...)
	require.Equal(t, 0, code, stderr)
	assert.Regexp(t, refRE, stdout)
	layoutImage(t, filepath.Join(dir, "a", "b", "demo"), defaultImageName)
	entries, err := os.ReadDir(filepath.Join(dir, "a", "b"))
	require.NoError(t, err)
	require.Len(t, entries, 1, "no temporary directory left beside the layout")
	assert.Equal(t, "demo", entries[0].Name())
}

// A base given as a plain path to a layout says to use oci:PATH.
func TestBuildBaseDirectoryHint(t *testing.T) {
	abs, err := filepath.Abs("../../testdata/base")
	require.NoError(t, err)
	for _, ref := range []string{abs, "../../testdata/base"} {
		code, stdout, stderr := runCmd(t, cacheEnv(t), "build", "--base", ref, "--code", demoCode, "--handler", "app.handler",
			"--oci-layout", filepath.Join(t.TempDir(), "o"))
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "use oci:"+ref)
	}
}

// A later output failing undoes the earlier ones: a failed command leaves
// no outputs, and removes nothing that was there before it ran. The
// registry takes blobs (uploaded while the build runs) and refuses the
// manifest, so the push fails after the local outputs were written.
func TestBuildFailedPushUndoesLocalOutputs(t *testing.T) {
	reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/") {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusForbidden)
			_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"read-only registry"}]}`)
			return
		}
		reg.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	tag := strings.TrimPrefix(srv.URL, "http://") + "/denied/fn:1"

	t.Run("new outputs", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, "keep"), []byte("precious"), 0o644))
		before := listTree(t, dir)
		code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--oci-layout", filepath.Join(dir, "new", "t1"),
			"--tarball", filepath.Join(dir, "t2.tar"), "--tag", tag)...)
		assert.Equal(t, exitAuth, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "wrote OCI layout", "the layout was written before the push failed")
		assert.Contains(t, stderr, "DENIED")
		assert.Equal(t, before, listTree(t, dir), "layout, tarball and the parent made for them are gone; keep stays")
	})
	t.Run("existing layout and tarball", func(t *testing.T) {
		dir := t.TempDir()
		lay := filepath.Join(dir, "layout")
		code, _, stderr := runCmd(t, cacheEnv(t), demoArgs("--oci-layout", lay)...)
		require.Equal(t, 0, code, stderr)
		require.NoError(t, os.WriteFile(filepath.Join(dir, "t2.tar"), []byte("old tarball"), 0o644))
		require.NoError(t, os.WriteFile(filepath.Join(lay, "notes.txt"), []byte("precious"), 0o644))
		before := listTree(t, dir)
		delete(before, "t2.tar")

		code, _, stderr = runCmd(t, cacheEnv(t), demoArgs("--env", "CHANGED=1", "--oci-layout", lay,
			"--tarball", filepath.Join(dir, "t2.tar"), "--tag", tag)...)
		assert.Equal(t, exitAuth, code)
		assert.Contains(t, stderr, "wrote OCI layout")
		assert.Equal(t, before, listTree(t, dir), "the layout holds exactly what it held (index.json restored, new blobs removed); the replaced tarball is removed")
		layoutImage(t, lay, defaultImageName)
	})
	t.Run("blobs refused while building", func(t *testing.T) {
		// A registry that refuses every upload fails the command as the
		// build ends, before any local output is written.
		reg := ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0)))
		ro := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Content-Type", "application/json")
				w.WriteHeader(http.StatusForbidden)
				_, _ = io.WriteString(w, `{"errors":[{"code":"DENIED","message":"read-only registry"}]}`)
				return
			}
			reg.ServeHTTP(w, r)
		}))
		t.Cleanup(ro.Close)
		dir := t.TempDir()
		code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--oci-layout", filepath.Join(dir, "t1"),
			"--tag", strings.TrimPrefix(ro.URL, "http://")+"/denied/fn:1")...)
		assert.Equal(t, exitAuth, code)
		assert.Empty(t, stdout)
		assert.Contains(t, stderr, "DENIED")
		assert.NotContains(t, stderr, "wrote OCI layout")
		_, err := os.Stat(filepath.Join(dir, "t1"))
		assert.True(t, os.IsNotExist(err), "no layout written: %v", err)
	})
}

// A directory that merely holds a file named oci-layout is not a layout:
// refused before anything is written, its files untouched.
func TestBuildRefusesFakeLayout(t *testing.T) {
	dir := t.TempDir()
	lay := filepath.Join(dir, "d")
	require.NoError(t, os.MkdirAll(lay, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(lay, "file"), []byte("precious"), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(lay, "oci-layout"), nil, 0o644))
	before := listTree(t, dir)
	code, _, stderr := runCmd(t, cacheEnv(t), demoArgs("--oci-layout", lay, "--tarball", filepath.Join(dir, "t.tar"))...)
	assert.Equal(t, exitUsage, code)
	assert.Contains(t, stderr, "--oci-layout "+lay+": ")
	assert.Contains(t, stderr, "not an OCI image layout")
	assert.NotContains(t, stderr, "fetching base")
	assert.Equal(t, before, listTree(t, dir))
}

// Issue 16 #5: an output that is one of the inputs is refused before
// anything is read or written, by device and inode, and the input is
// left as it was.
func TestBuildRefusesInputAsOutput(t *testing.T) {
	dir := t.TempDir()
	layer := filepath.Join(dir, "x.zip")
	orig, err := os.ReadFile(demoLayer)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(layer, orig, 0o644))
	code, stdout, stderr := runCmd(t, cacheEnv(t), "build", "--base", fixtureBase, "--arch", "x86_64",
		"--layer", layer, "--code", demoCode, "--handler", "app.handler", "--tarball", filepath.Join(dir, ".", "x.zip"))
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "--tarball "+layer+": is also an input")
	assert.NotContains(t, stderr, "fetching base")
	got, err := os.ReadFile(layer)
	require.NoError(t, err)
	assert.Equal(t, orig, got, "the input is intact")
}

// --quiet prints nothing but the result: no progress, no log lines (a
// warning about the image would still be printed; this build has none).
func TestBuildQuiet(t *testing.T) {
	lay := filepath.Join(t.TempDir(), "layout")
	code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--oci-layout", lay, "--quiet")...)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stderr)
	assert.Equal(t, "localhost/lambda-function@"+demoDigest+"\n", stdout)

	// Without it, the same build says what it does.
	_, _, stderr = runCmd(t, cacheEnv(t), demoArgs("--oci-layout", filepath.Join(t.TempDir(), "l2"))...)
	assert.Contains(t, stderr, "fetching base")
	assert.Contains(t, stderr, "wrote OCI layout")
}

// The registry as cache from the command line: a build on an empty cache
// directory reuses what the image under --cache-from (or under its own
// --tag) records, and --json says which layers it took from where; a
// reference without a registry host is a usage error.
func TestBuildCacheFrom(t *testing.T) {
	srv := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(srv.Close)
	repo := strings.TrimPrefix(srv.URL, "http://") + "/fn"

	code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--tag", repo+":main", "--json")...)
	require.Equal(t, 0, code, stderr)
	var first buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &first))

	for _, tc := range []struct {
		name string
		args []string
	}{
		{"its own tag", []string{"--tag", repo + ":main"}},
		{"another tag", []string{"--tag", repo + ":abc123", "--cache-from", repo + ":main"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs(append(tc.args, "--json")...)...)
			require.Equal(t, 0, code, stderr)
			var got buildOutput
			require.NoError(t, json.Unmarshal([]byte(stdout), &got))
			require.Equal(t, first.Digest, got.Digest, stderr)
			var reused []string
			for _, l := range got.Layers {
				if l.Reused != "" {
					reused = append(reused, l.Kind+" "+l.Reused)
				}
			}
			require.Equal(t, []string{"layer " + repo + ":main", "code " + repo + ":main"}, reused)
			require.Contains(t, stderr, "(not converted)")
		})
	}

	code, _, stderr = runCmd(t, cacheEnv(t), demoArgs("--tag", repo+":x", "--cache-from", "fn:main")...)
	require.Equal(t, exitUsage, code)
	require.Contains(t, stderr, "--cache-from")
	require.Contains(t, stderr, "no registry host")

	// --no-cache: no registry cache either.
	code, stdout, stderr = runCmd(t, cacheEnv(t), demoArgs("--tag", repo+":main", "--no-cache", "--json")...)
	require.Equal(t, 0, code, stderr)
	require.NotContains(t, stdout, `"reused"`)
}
