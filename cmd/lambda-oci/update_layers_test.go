package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/config"
	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// TestUpdateLayers: a newer version of a layer published in the stand-in
// Lambda API moves the lock with update --layers only; build -f (--locked
// too) then builds the new version while lambda-oci.yaml still names the
// old one.
func TestUpdateLayers(t *testing.T) {
	f := newFleetFixture(t)
	lines := strings.Split(f.body(t), "\n")
	for i, l := range lines {
		if strings.HasPrefix(l, "  registry: ") || strings.HasPrefix(l, "  tags: ") {
			lines[i] = "  # " + strings.TrimSpace(l)
		}
	}
	f.writeFile(t, strings.Join(lines, "\n"), "")
	yaml := f.body(t)
	lockPath := filepath.Join(f.dir, config.LockName)
	readLock := func() (string, *config.Lock) {
		b, err := os.ReadFile(lockPath)
		require.NoError(t, err)
		l, err := config.ReadLock(lockPath)
		require.NoError(t, err)
		return string(b), l
	}

	code, _, stderr := f.run(t, "build", "-f", f.file, "--oci-layout", filepath.Join(f.dir, "out1"))
	require.Equal(t, 0, code, stderr)
	built, _ := readLock()

	// The layer's owner publishes version 2.
	const layer2 = "arn:aws:lambda:us-east-1:123456789012:layer:base-libs:2"
	zip2 := testutil.Zip(t, testutil.F("python/common.py", 0o644, "VERSION = 3\n"), testutil.F("python/one.py", 0o644, "ONE = 2\n"))
	f.fake.AddLayer(fakelambda.Layer{ARN: layer2, Zip: zip2, CompatibleRuntimes: []string{"python3.12"}})

	// Without --layers nothing moves and nothing is listed.
	code, stdout, stderr := f.run(t, "update", "-f", f.file)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "up to date")
	again, _ := readLock()
	assert.Equal(t, built, again)
	assert.Zero(t, f.fake.CallCount("ListLayerVersions"))

	downloads := f.fake.Downloads()
	code, stdout, stderr = f.run(t, "update", "-f", f.file, "--layers")
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, "orders: layer "+migLayer1+" -> "+layer2+"\nbilling: layer "+migLayer1+" -> "+layer2+"\n", stdout)
	assert.Equal(t, 1, f.fake.CallCount("ListLayerVersions"), "one listing per distinct layer")
	assert.Equal(t, downloads, f.fake.Downloads(), "update downloads nothing")
	_, lock := readLock()
	for _, fn := range []string{"orders", "billing"} {
		got := lock.Functions[fn].Layers[1]
		assert.Equal(t, config.LockedInput{Source: layer2, Requested: migLayer1, CodeSha256: fakelambda.CodeSha256(zip2)}, got, fn)
	}
	assert.Equal(t, "layers/shared.zip", lock.Functions["orders"].Layers[0].Source, "zip layers stay")
	assert.Equal(t, yaml, f.body(t), "lambda-oci.yaml is left as it is")

	code, stdout, stderr = f.run(t, "update", "-f", f.file, "--layers")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "up to date")
	moved, _ := readLock()

	// --locked builds the lock's version and leaves the lock alone.
	out2 := filepath.Join(f.dir, "out2")
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", out2, "--locked")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "orders: layer "+migLayer1+" pinned at "+layer2+" by "+config.LockName)
	after, _ := readLock()
	assert.Equal(t, moved, after)
	img := layoutImage(t, out2, "localhost/orders:latest")
	files := flatten(t, img)
	assert.Equal(t, "VERSION = 3\n", files["opt/python/common.py"], "the new version's content")
	assert.Equal(t, "ONE = 2\n", files["opt/python/one.py"])
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	prov, err := build.ReadProvenance(cf)
	require.NoError(t, err)
	var arns []string
	for _, l := range prov.Layers {
		if l.ARN != "" {
			arns = append(arns, l.ARN+" "+l.CodeSha256)
		}
	}
	assert.Equal(t, []string{layer2 + " " + fakelambda.CodeSha256(zip2)}, arns)

	// A plain build records the new layer's digest; --locked then checks it.
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", filepath.Join(f.dir, "out3"))
	require.Equal(t, 0, code, stderr)
	_, lock = readLock()
	got := lock.Functions["orders"].Layers[1]
	assert.Equal(t, layer2, got.Source)
	assert.Equal(t, migLayer1, got.Requested)
	assert.NotEmpty(t, got.Digest)
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", filepath.Join(f.dir, "out4"), "--locked")
	require.Equal(t, 0, code, stderr)

	// Naming another version in the file is a choice the lock does not
	// override: --locked refuses the difference.
	f.writeFile(t, strings.ReplaceAll(yaml, migLayer1, "arn:aws:lambda:us-east-1:123456789012:layer:base-libs:2"), "")
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", filepath.Join(f.dir, "out5"), "--locked", "--only", "orders")
	require.Equal(t, 0, code, stderr+": the file now names the locked version")
	f.writeFile(t, yaml, "")
	f.fake.AddLayer(fakelambda.Layer{ARN: "arn:aws:lambda:us-east-1:123456789012:layer:base-libs:3", Zip: zip2})
	f.writeFile(t, strings.ReplaceAll(yaml, migLayer1, "arn:aws:lambda:us-east-1:123456789012:layer:base-libs:3"), "")
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", filepath.Join(f.dir, "out6"), "--locked", "--only", "orders")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "layer 2 "+layer2+" -> arn:aws:lambda:us-east-1:123456789012:layer:base-libs:3")

	// A layer whose versions may not be listed stays, with a warning.
	f.writeFile(t, yaml, "")
	before, _ := readLock()
	f.fake.Fail("ListLayerVersions", fakelambda.APIError{Status: 403, Type: "AccessDeniedException", Message: "no resource-based policy allows the lambda:ListLayerVersions action"})
	code, stdout, stderr = f.run(t, "update", "-f", f.file, "--layers")
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "warning: function orders: layer "+layer2)
	assert.Contains(t, stderr, "need IAM permission lambda:ListLayerVersions")
	after, _ = readLock()
	assert.Equal(t, before, after)
}
