package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// fleetFixture is a lambda-oci.yaml with three functions sharing two layers
// (a local zip and a layer version ARN served by the fake Lambda API), a
// base from the committed layout, pushing to the real docker-registry.
type fleetFixture struct {
	*migration
	dir, file, host string
}

func newFleetFixture(t *testing.T) *fleetFixture {
	t.Helper()
	m := newMigration(t)
	reg := testregistry.Start(t, testregistry.Options{})
	dir := t.TempDir()
	base, err := filepath.Abs("../../testdata/base")
	require.NoError(t, err)
	write := func(p string, data []byte) {
		require.NoError(t, os.MkdirAll(filepath.Dir(filepath.Join(dir, p)), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, p), data, 0o644))
	}
	write("layers/shared.zip", testutil.Zip(t, testutil.F("python/shared.py", 0o644, "SHARED = 1\n")))
	write("orders/app.py", []byte("def handler(e, c):\n    return 'orders'\n"))
	write("billing.zip", testutil.Zip(t, testutil.F("app.py", 0o644, "def handler(e, c):\n    return 'billing'\n")))
	write("reports/app.py", []byte("def handler(e, c):\n    return 'reports'\n"))
	f := &fleetFixture{migration: m, dir: dir, file: filepath.Join(dir, "lambda-oci.yaml"), host: reg.Host}
	f.writeFile(t, fmt.Sprintf(`defaults:
  runtime: python3.12
  base: oci:%s:latest
  arch: arm64
  registry: %s/fleet
  tags: ["v1"]
functions:
  orders:
    layers: [layers/shared.zip, %s]
    code: orders
    handler: app.handler
  billing:
    layers: [layers/shared.zip, %s]
    code: billing.zip
    handler: app.handler
    env: {TABLE: bills}
  reports:
    layers: [layers/shared.zip]
    code: reports
    handler: app.handler
`, base, reg.Host, migLayer1, migLayer1), "")
	return f
}

func (f *fleetFixture) writeFile(t *testing.T, body, extra string) {
	t.Helper()
	require.NoError(t, os.WriteFile(f.file, []byte(body+extra), 0o644))
}

func (f *fleetFixture) body(t *testing.T) string {
	t.Helper()
	b, err := os.ReadFile(f.file)
	require.NoError(t, err)
	return string(b)
}

func TestBuildFile(t *testing.T) {
	f := newFleetFixture(t)
	refs := filepath.Join(f.dir, "refs.txt")
	code, stdout, stderr := f.run(t, "build", "-f", f.file, "--json", "--image-refs", refs, "--no-cache")
	require.Equal(t, 0, code, stderr)
	var res map[string]fileFunctionJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	require.Len(t, res, 3)

	// Shared work done once: one base, the ARN resolved and downloaded once
	// (counted by the fake Lambda API), five distinct inputs converted
	// (the shared zip, the ARN's zip, three codes) for eight layer uses.
	assert.Equal(t, 1, f.fake.CallCount("GetLayerVersionByArn"))
	assert.Equal(t, 1, f.fake.Downloads())
	assert.Contains(t, stderr, "built 3 of 3 functions (1 base fetches,")
	assert.Contains(t, stderr, "1 layer versions fetched, 5 inputs converted)")

	var lines []string
	for _, fn := range []string{"orders", "billing", "reports"} {
		r := res[fn]
		assert.Empty(t, r.Error)
		assert.Equal(t, f.host+"/fleet/"+fn+"@"+r.Digest, r.ImageURI, fn)
		assert.Equal(t, r.ImageURI, r.Reference)
		lines = append(lines, fn+"="+r.ImageURI)
		// What the registry holds is the image reported, whole.
		ref, err := name.ParseReference(f.host + "/fleet/" + fn + ":v1")
		require.NoError(t, err)
		img, err := remote.Image(ref)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		assert.Equal(t, r.Digest, d.String())
		require.NoError(t, validate.Image(img))
		files := flatten(t, img)
		assert.Equal(t, "SHARED = 1\n", files["opt/python/shared.py"], fn)
		assert.Contains(t, files["var/task/app.py"], "'"+fn+"'")
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		assert.Equal(t, []string{"app.handler"}, cf.Config.Cmd)
	}
	assert.Equal(t, "VERSION = 1\n", flattenRef(t, f.host+"/fleet/orders:v1")["opt/python/common.py"], "the ARN's layer")
	got, err := os.ReadFile(refs)
	require.NoError(t, err)
	assert.Equal(t, strings.Join(lines, "\n")+"\n", string(got), "--image-refs: NAME=REF lines in file order")

	// The fleet builds exactly what a single build of the same function does.
	code, single, stderr := f.run(t, "build", "--base", "oci:../../testdata/base:latest", "--runtime", "python3.12", "--arch", "arm64",
		"--layer", filepath.Join(f.dir, "layers/shared.zip"), "--layer", migLayer1, "--code", filepath.Join(f.dir, "orders"),
		"--handler", "app.handler", "--oci-layout", filepath.Join(t.TempDir(), "single"), "--json")
	require.Equal(t, 0, code, stderr)
	var one buildOutput
	require.NoError(t, json.Unmarshal([]byte(single), &one))
	assert.Equal(t, res["orders"].Digest, one.Digest)

	t.Run("only", func(t *testing.T) {
		code, stdout, stderr := f.run(t, "build", "-f", f.file, "--only", "billing")
		require.Equal(t, 0, code, stderr)
		assert.Equal(t, "billing="+res["billing"].ImageURI+"\n", stdout)
		code, _, stderr = f.run(t, "build", "-f", f.file, "--only", "nope")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "--only nope")
		assert.Contains(t, stderr, "orders, billing, reports")
	})

	t.Run("a broken function fails alone", func(t *testing.T) {
		write := filepath.Join(f.dir, "broken")
		require.NoError(t, os.MkdirAll(write, 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(write, "other.py"), []byte("x = 1\n"), 0o644))
		body := f.body(t)
		f.writeFile(t, body, "  broken:\n    code: broken\n    handler: app.handler\n")
		defer f.writeFile(t, body, "")
		code, stdout, stderr := f.run(t, "build", "-f", f.file, "--json")
		assert.Equal(t, exitNotReady, code, "the one failure is a check's refusal")
		assert.Contains(t, stderr, "1 of 4 functions failed: broken:")
		assert.Contains(t, stderr, "app.py", "the reason: the handler's module is missing")
		var res2 map[string]fileFunctionJSON
		require.NoError(t, json.Unmarshal([]byte(stdout), &res2), stdout)
		assert.NotEmpty(t, res2["broken"].Error)
		for _, fn := range []string{"orders", "billing", "reports"} {
			assert.Equal(t, res[fn].ImageURI, res2[fn].ImageURI, "%s still built and pushed", fn)
		}

		code, stdout, stderr = f.run(t, "build", "-f", f.file, "--fail-fast", "--jobs", "1", "--json")
		assert.Equal(t, exitNotReady, code)
		require.NoError(t, json.Unmarshal([]byte(stdout), &res2), stdout)
		assert.Empty(t, res2["orders"].Error, "with --jobs 1, functions before the broken one are built and kept (stopping the rest: build.TestPublishFleetFailures)")
		assert.NotEmpty(t, res2["broken"].Error)
	})

	t.Run("schema errors name the line", func(t *testing.T) {
		body := f.body(t)
		f.writeFile(t, strings.Replace(body, "    code: reports\n", "    code: reports\n    handlr: x\n", 1), "")
		defer f.writeFile(t, body, "")
		code, stdout, stderr := f.run(t, "build", "-f", f.file)
		assert.Equal(t, 1, code)
		assert.Empty(t, stdout)
		line := strings.Count(body[:strings.Index(body, "    code: reports\n")], "\n") + 2
		assert.Contains(t, stderr, fmt.Sprintf("lambda-oci.yaml:%d: functions.reports: unknown key \"handlr\"", line))
	})

	t.Run("single-function flags are refused", func(t *testing.T) {
		code, _, stderr := f.run(t, "build", "-f", f.file, "--code", "x")
		assert.Equal(t, 1, code)
		assert.Contains(t, stderr, "--code cannot be used with -f")
	})
}

func flattenRef(t *testing.T, s string) map[string]string {
	t.Helper()
	ref, err := name.ParseReference(s)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	return flatten(t, img)
}
