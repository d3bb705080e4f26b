package e2e

import (
	"context"
	"encoding/json"
	"os/exec"
	"runtime"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// skopeo reads the pushed base as an independent client: an index with one
// linux/<host> manifest, whose config is the AWS base images' config.
func (w *world) testBaseIndex(t *testing.T) {
	for _, base := range []string{w.shellBase, w.provBase} {
		args := []string{"--cert-dir", w.reg.CertDir, "--creds", regUser + ":" + regPass, "docker://" + base}
		raw, err := exec.CommandContext(t.Context(), "skopeo", append([]string{"inspect", "--raw"}, args...)...).Output()
		require.NoError(t, err, "skopeo inspect --raw %s", base)
		var index struct {
			MediaType string `json:"mediaType"`
			Manifests []struct {
				Platform struct{ OS, Architecture string }
			}
		}
		require.NoError(t, json.Unmarshal(raw, &index))
		assert.Contains(t, []string{string(types.DockerManifestList), string(types.OCIImageIndex)}, index.MediaType, base)
		require.Len(t, index.Manifests, 1, base)
		assert.Equal(t, "linux", index.Manifests[0].Platform.OS)
		assert.Equal(t, runtime.GOARCH, index.Manifests[0].Platform.Architecture)

		cfgJSON, err := exec.CommandContext(t.Context(), "skopeo", append([]string{"inspect", "--config"}, args...)...).Output()
		require.NoError(t, err, "skopeo inspect --config %s", base)
		var cfg struct {
			Config struct {
				Env        []string
				Entrypoint []string
				Cmd        []string
				WorkingDir string
			} `json:"config"`
		}
		require.NoError(t, json.Unmarshal(cfgJSON, &cfg))
		assert.Equal(t, baseEnv, cfg.Config.Env)
		assert.Equal(t, []string{"/lambda-entrypoint.sh"}, cfg.Config.Entrypoint)
		assert.Empty(t, cfg.Config.Cmd, "AWS bases have no CMD")
		assert.Equal(t, "/var/task", cfg.Config.WorkingDir)
	}
}

// The runner works without lambda-oci: base + a hand-written /var/task
// layer answers from its handler, and a missing module is an init error.
func (w *world) testHandAssembled(t *testing.T) {
	layer, err := RawLayer("/var/task", []ZipEntry{
		{Name: "hello.sh", Mode: 0o644, Body: `handler() { printf '{"hello":%s,"user":"%s"}' "$1" "$(id -u)"; }` + "\n"},
	}, types.DockerLayer)
	require.NoError(t, err)
	img, err := mutate.AppendLayers(w.shellImage, layer)
	require.NoError(t, err)
	ref := w.pushImage(t, "hand/hello", img)

	status, body := w.invoke(t, ref, "hello.handler", `{"x":1}`)
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `{"hello":{"x":1},"user":"1000"}`, body, "the handler runs as the non-root user and echoes the event")

	status, body = w.invoke(t, ref, "nope.handler", `{}`)
	assert.Equal(t, 502, status, "the emulator reports an init error as 502")
	assert.Contains(t, body, "Runtime.ImportModuleError")
	assert.Contains(t, body, "no nope.sh in /var/task or /opt")
}

// The entrypoint keeps AWS's contract: a second handler argument, or none,
// stops it with exit status 142 before the emulator starts.
func (w *world) testEntrypointContract(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
	defer cancel()
	_, err := w.podman.Pull(ctx, w.shellBase)
	require.NoError(t, err)
	for _, args := range [][]string{{}, {"a.handler", "b.handler"}} {
		out, err := w.podman.Exec(ctx, append([]string{"run", "--rm", "--user", "1000:1000", w.shellBase}, args...)...)
		var exit *exec.ExitError
		require.ErrorAs(t, err, &exit, "args %q: %s", args, out)
		assert.Equal(t, 142, exit.ExitCode(), "args %q: %v", args, err)
		assert.Contains(t, err.Error(), "entrypoint requires the handler name to be the first argument")
	}
}

// The control for scenario 4: the same Unix-made files, put into an image
// without normalisation, fail as Lambda's non-root user would see them.
func (w *world) testUnnormalisedControl(t *testing.T) {
	layer, err := RawLayer("/var/task", privateModesCode, types.DockerLayer)
	require.NoError(t, err)
	img, err := mutate.AppendLayers(w.shellImage, layer)
	require.NoError(t, err)
	ref := w.pushImage(t, "hand/private-modes", img)

	status, body := w.invoke(t, ref, "app.handler", `{}`)
	assert.Equal(t, 502, status, "the emulator reports an init error as 502")
	assert.Contains(t, body, "Runtime.ImportModuleError")
	assert.Contains(t, body, "can't open '/var/task/app.sh': Permission denied")
}
