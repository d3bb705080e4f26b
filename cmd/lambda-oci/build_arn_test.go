package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// TestBuildLayerARNs: --layer takes layer version ARNs mixed with zip paths,
// in order; the ARN names the layer in the result; a second build neither
// calls the API nor downloads; a checksum mismatch is refused.
func TestBuildLayerARNs(t *testing.T) {
	m := newMigration(t)
	dir := t.TempDir()
	localZip := filepath.Join(dir, "local.zip")
	require.NoError(t, os.WriteFile(localZip, testutil.Zip(t, testutil.F("python/common.py", 0o644, "VERSION = 'local'\n")), 0o644))
	codeZip := filepath.Join(dir, "code.zip")
	require.NoError(t, os.WriteFile(codeZip, m.code, 0o644))

	build := func(out string) (int, string, string) {
		return m.run(t, "build", "--base", testBase, "--runtime", "python3.12", "--arch", "arm64",
			"--layer", migLayer1, "--layer", localZip, "--layer", migLayer2,
			"--code", codeZip, "--handler", "app.handler", "--oci-layout", out, "--json")
	}
	out1 := filepath.Join(dir, "out1")
	code, stdout, stderr := build(out1)
	require.Equal(t, 0, code, stderr)
	var res buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	var sources []string
	for _, l := range res.Layers {
		if l.Kind == "layer" {
			sources = append(sources, l.Source)
		}
	}
	assert.Equal(t, []string{migLayer1, "local.zip", migLayer2}, sources, "order kept, ARNs named")
	assert.Equal(t, 2, m.fake.CallCount("GetLayerVersionByArn"))
	assert.Equal(t, 2, m.fake.Downloads())

	// Later layers win: layer 2 (ARN) overrides the local zip, which
	// overrode layer 1.
	idx, err := layout.ImageIndexFromPath(out1)
	require.NoError(t, err)
	im, err := idx.IndexManifest()
	require.NoError(t, err)
	img, err := idx.Image(im.Manifests[0].Digest)
	require.NoError(t, err)
	assert.Equal(t, "VERSION = 2\n", flatten(t, img)["opt/python/common.py"])

	// Second build: everything from the cache, same image.
	code, stdout2, stderr := build(filepath.Join(dir, "out2"))
	require.Equal(t, 0, code, stderr)
	var res2 buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout2), &res2))
	assert.Equal(t, res.Digest, res2.Digest)
	assert.Equal(t, 2, m.fake.CallCount("GetLayerVersionByArn"), "no API call for cached layer versions")
	assert.Equal(t, 2, m.fake.Downloads(), "no download for cached layer versions")

	// A layer version whose download does not match CodeSha256 is refused,
	// and nothing is written.
	bad := "arn:aws:lambda:us-east-1:123456789012:layer:tampered:1"
	m.fake.AddLayer(fakelambda.Layer{ARN: bad,
		Zip:      testutil.Zip(t, testutil.F("python/x.py", 0o644, "X = 1\n")),
		ServeZip: testutil.Zip(t, testutil.F("python/x.py", 0o644, "X = 2\n"))})
	out3 := filepath.Join(dir, "out3")
	code, _, stderr = m.run(t, "build", "--base", testBase, "--layer", bad, "--code", codeZip,
		"--handler", "app.handler", "--oci-layout", out3)
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, bad)
	assert.Contains(t, stderr, "CodeSha256")
	assert.NoDirExists(t, out3)
}

// A layer version the previous image holds is neither downloaded nor
// converted on a runner with an empty cache: GetLayerVersionByArn says its
// CodeSha256, which is what the image records.
func TestBuildLayerARNsFromRegistryCache(t *testing.T) {
	m := newMigration(t)
	dir := t.TempDir()
	codeZip := filepath.Join(dir, "code.zip")
	require.NoError(t, os.WriteFile(codeZip, m.code, 0o644))
	tag := m.host + "/fn:main"
	build := func(cacheDir string) buildOutput {
		t.Helper()
		code, stdout, stderr := m.run(t, "build", "--base", testBase, "--runtime", "python3.12", "--arch", "arm64",
			"--layer", migLayer1, "--layer", migLayer2, "--code", codeZip, "--handler", "app.handler",
			"--tag", tag, "--cache-dir", cacheDir, "--json")
		require.Equal(t, 0, code, stderr)
		var res buildOutput
		require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
		return res
	}
	first := build(filepath.Join(dir, "cache1"))
	require.Equal(t, 2, m.fake.Downloads())

	again := build(filepath.Join(dir, "cache2"))
	assert.Equal(t, first.Digest, again.Digest)
	assert.Equal(t, 2, m.fake.Downloads(), "no layer version downloaded again")
	assert.Equal(t, 4, m.fake.CallCount("GetLayerVersionByArn"), "one describe per version")
	var reused []string
	for _, l := range again.Layers {
		if l.Reused != "" {
			reused = append(reused, l.Source)
		}
	}
	assert.Equal(t, []string{migLayer1, migLayer2, "code.zip"}, reused)
}
