package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/config"
	"github.com/lambda-oci/lambda-oci/image"
	"github.com/lambda-oci/lambda-oci/lambda"
	"github.com/lambda-oci/lambda-oci/publish"
	"github.com/lambda-oci/lambda-oci/registry"
)

// movableBase writes the committed base's arm64 image into a layout of
// its own as localhost/base:latest, and returns a function that moves the
// tag to a new image (the base republished with a changed config).
func movableBase(t *testing.T, dir string) (first v1.Hash, move func() v1.Hash) {
	t.Helper()
	b, err := registry.FetchBase(context.Background(), "oci:../../testdata/base:latest", registry.Options{})
	require.NoError(t, err)
	img, err := image.SelectPlatform(b.Index, b.Image, lambda.ARM64)
	require.NoError(t, err)
	put := func(img v1.Image) v1.Hash {
		_, err := publish.Layout(filepath.Join(dir, "base"), "localhost/base:latest").Publish(context.Background(), img)
		require.NoError(t, err)
		d, err := img.Digest()
		require.NoError(t, err)
		return d
	}
	return put(img), func() v1.Hash {
		cf, err := img.ConfigFile()
		require.NoError(t, err)
		cfg := cf.Config.DeepCopy()
		cfg.Env = append(cfg.Env, "BASE_PATCH=2")
		next, err := mutate.Config(img, *cfg)
		require.NoError(t, err)
		return put(next)
	}
}

func TestBuildFileLock(t *testing.T) {
	f := newFleetFixture(t)
	v1Digest, move := movableBase(t, f.dir)
	body := f.body(t)
	lines := strings.Split(body, "\n")
	for i, l := range lines {
		switch {
		case strings.HasPrefix(l, "  base: "):
			lines[i] = "  base: oci:base:latest"
		case strings.HasPrefix(l, "  registry: "), strings.HasPrefix(l, "  tags: "):
			lines[i] = "  # " + strings.TrimSpace(l)
		}
	}
	f.writeFile(t, strings.Join(lines, "\n"), "")
	out := filepath.Join(f.dir, "out")
	lockPath := filepath.Join(f.dir, config.LockName)

	code, _, stderr := f.run(t, "build", "-f", f.file, "--oci-layout", out)
	require.Equal(t, 0, code, stderr)
	lock, err := config.ReadLock(lockPath)
	require.NoError(t, err)
	require.Len(t, lock.Functions, 3)
	orders := lock.Functions["orders"]
	assert.Equal(t, "oci:base:latest", orders.Base, "relative to the file: the lock can be committed")
	assert.Equal(t, "linux/arm64", orders.Platform)
	assert.Equal(t, v1Digest.String(), orders.BaseDigest)
	require.Len(t, orders.Layers, 2)
	assert.Equal(t, "layers/shared.zip", orders.Layers[0].Source)
	assert.Equal(t, sha256File(t, filepath.Join(f.dir, "layers/shared.zip")), "sha256:"+orders.Layers[0].SHA256)
	assert.Equal(t, migLayer1, orders.Layers[1].Source)
	assert.NotEmpty(t, orders.Layers[1].CodeSha256)
	assert.Equal(t, "orders", orders.Code.Source)
	assert.Empty(t, orders.Code.SHA256, "a directory is identified by its layer digest")
	assert.Equal(t, "billing.zip", lock.Functions["billing"].Code.Source)
	assert.NotEmpty(t, lock.Functions["billing"].Code.SHA256)
	written, err := os.ReadFile(lockPath)
	require.NoError(t, err)

	// Round trip: --locked accepts what the lock says and leaves it alone.
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", out, "--locked")
	require.Equal(t, 0, code, stderr)
	again, err := os.ReadFile(lockPath)
	require.NoError(t, err)
	assert.Equal(t, string(written), string(again))

	// The base tag moves: --locked refuses every function, naming the change.
	v2Digest := move()
	code, stdout, stderr := f.run(t, "build", "-f", f.file, "--oci-layout", out, "--locked")
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "3 of 3 functions failed")
	assert.Contains(t, stderr, "base digest "+v1Digest.String()+" -> "+v2Digest.String())

	// A changed input is named too.
	require.NoError(t, os.WriteFile(filepath.Join(f.dir, "reports/app.py"), []byte("def handler(e, c):\n    return 'reports v2'\n"), 0o644))
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", out, "--locked", "--only", "reports")
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, "code reports layer sha256:")

	// update moves the lock to the new base and says so; then --locked
	// builds the functions whose inputs did not change.
	code, stdout, stderr = f.run(t, "update", "-f", f.file)
	require.Equal(t, 0, code, stderr)
	for _, fn := range []string{"orders", "billing", "reports"} {
		assert.Contains(t, stdout, fn+": base digest "+v1Digest.String()+" -> "+v2Digest.String()+"\n")
	}
	lock, err = config.ReadLock(lockPath)
	require.NoError(t, err)
	assert.Equal(t, v2Digest.String(), lock.Functions["orders"].BaseDigest)
	code, _, stderr = f.run(t, "build", "-f", f.file, "--oci-layout", out, "--locked", "--only", "orders", "--only", "billing")
	require.Equal(t, 0, code, stderr)

	code, stdout, stderr = f.run(t, "update", "-f", f.file)
	require.Equal(t, 0, code, stderr)
	assert.Empty(t, stdout, "nothing moved")
	assert.Contains(t, stderr, "up to date")
}
