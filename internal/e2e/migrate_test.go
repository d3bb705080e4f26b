package e2e

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
)

// Layer versions of the migrated function. The runtime layer is the way
// shell custom runtimes are shipped in practice (a community layer holding
// bootstrap); the second layer holds the handler module.
const (
	migRuntimeLayer  = "arn:aws:lambda:us-east-1:123456789012:layer:shell-runtime:3"
	migHandlersLayer = "arn:aws:lambda:us-east-1:123456789012:layer:handlers:7"
)

// migrateEnv is lambda-oci's environment for a migration: the registry
// settings every scenario uses, and the AWS SDK pointed at the stand-in
// Lambda API with its credentials. Every AWS_* variable of the caller is
// dropped first, so no profile, role or real endpoint of the machine can
// take part, and the shared config files are paths that do not exist.
func (w *world) migrateEnv(t *testing.T, fake *fakelambda.Server) []string {
	t.Helper()
	var env []string
	for _, kv := range w.binEnv {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	dir := t.TempDir()
	return append(env,
		"AWS_ENDPOINT_URL_LAMBDA="+fake.URL,
		"AWS_ACCESS_KEY_ID="+fake.AccessKeyID(),
		"AWS_SECRET_ACCESS_KEY="+fake.SecretAccessKey(),
		"AWS_REGION=us-east-1",
		"AWS_CONFIG_FILE="+filepath.Join(dir, "aws-config"),
		"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(dir, "aws-credentials"),
		"AWS_EC2_METADATA_DISABLED=true",
	)
}

// Scenario 8 (issue 6): a deployed zip function, read through the Lambda
// API, becomes an image that answers through the emulator as the zip
// function would have. The function is a provided.al2023 one whose shell
// runtime comes from a layer (bootstrap at /opt/bootstrap) onto a base with
// no /var/runtime/bootstrap, as the AWS provided.* bases are; its handler
// module is in a second layer, which also replaces the runtime layer's
// stub of the same file; the code zip carries data the handler reads. Its
// environment variable must stay out of the image and go to the emitted
// function configuration instead.
func (w *world) testScenario8Migrate(t *testing.T) {
	fake := fakelambda.New(t, fakelambda.Options{})
	// The runtime layer is the suite's shell runtime plus a marker the
	// handler reports, so the answer shows which bootstrap served it.
	runtimeLayer := zipBytes(t, []ZipEntry{
		{Name: "bootstrap", Mode: 0o755, Body: "#!/bin/sh\nexport RUNTIME_ORIGIN=shell-runtime:3\n" + strings.TrimPrefix(bootstrapScript, "#!/bin/sh\n")},
		{Name: "fn.sh", Mode: 0o644, Body: `handler() { echo '{"from":"runtime layer stub"}'; }` + "\n"},
	})
	handlersLayer := zipBytes(t, []ZipEntry{
		{Name: "fn.sh", Mode: 0o644, Body: `handler() { printf '{"from":"handlers layer","event":%s,"data":"%s","runtime":"%s","greeting":"%s"}' "$1" "$(cat "$LAMBDA_TASK_ROOT/data.txt")" "$RUNTIME_ORIGIN" "${GREETING:-unset}"; }` + "\n"},
	})
	fake.AddLayer(fakelambda.Layer{ARN: migRuntimeLayer, Zip: runtimeLayer,
		CompatibleRuntimes: []string{"provided.al2023"}, CompatibleArchitectures: []string{w.arch}})
	fake.AddLayer(fakelambda.Layer{ARN: migHandlersLayer, Zip: handlersLayer})
	const role = "arn:aws:iam::123456789012:role/greeter"
	fake.AddFunction(fakelambda.Function{
		Name:          "greeter",
		Runtime:       "provided.al2023",
		Handler:       "fn.handler",
		Role:          role,
		Architectures: []string{w.arch},
		Layers:        []string{migRuntimeLayer, migHandlersLayer},
		Environment:   map[string]string{"GREETING": "hello-from-config"},
		Code:          zipBytes(t, []ZipEntry{{Name: "data.txt", Mode: 0o644, Body: "from-code-zip"}}),
		Config:        map[string]any{"MemorySize": 256, "Timeout": 15},
	})

	repo := "fn"
	cfgFile := filepath.Join(t.TempDir(), "function.json")
	args := []string{"migrate", "--function", "greeter", "--base", w.provBase,
		"--tag", w.reg.Host + "/" + repo + ":migrated", "--cache-dir", w.cacheDir,
		"--emit-function-config", cfgFile}
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, w.bin, args...)
	cmd.Env = w.migrateEnv(t, fake)
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	t.Logf("lambda-oci %s\nstderr:\n%s", strings.Join(args, " "), stderr.String())
	require.NoError(t, err, "lambda-oci migrate failed")
	ref := strings.TrimSpace(stdout.String())
	require.Regexp(t, `^`+regexpQuote(w.reg.Host+"/"+repo)+`@sha256:[0-9a-f]{64}$`, ref, "stdout must be only the pushed reference")
	assert.Contains(t, stderr.String(), "environment variables kept out of the image")

	// What migrate asked of the Lambda API: the function once, each layer
	// version once, and three presigned downloads (code + two layers).
	assert.Equal(t, 1, fake.CallCount("GetFunction"))
	assert.Equal(t, 2, fake.CallCount("GetLayerVersionByArn"))
	assert.Equal(t, 3, fake.Downloads())
	for _, c := range fake.Calls() {
		assert.Equal(t, 200, c.Status, "%s %s", c.Operation, c.Path)
		assert.Equal(t, "us-east-1", c.Region, "%s signed for the function's region", c.Operation)
	}

	// The registry serves the tag at the printed digest, and the image's
	// CMD is the function's handler (read back by skopeo, not by us).
	_, printed, _ := strings.Cut(ref, "@")
	tagRef := w.reg.Host + "/" + repo + ":migrated"
	out, err := exec.CommandContext(ctx, "skopeo", "inspect", "--config", "--cert-dir", w.reg.CertDir,
		"--creds", regUser+":"+regPass, "docker://"+tagRef).Output()
	require.NoError(t, err, "skopeo inspect --config %s", tagRef)
	var imgCfg struct {
		Architecture string `json:"architecture"`
		Config       struct {
			Cmd []string
			Env []string
		} `json:"config"`
	}
	require.NoError(t, json.Unmarshal(out, &imgCfg))
	assert.Equal(t, []string{"fn.handler"}, imgCfg.Config.Cmd)
	for _, kv := range imgCfg.Config.Env {
		assert.NotContains(t, kv, "GREETING", "environment variables stay out of the image without --include-env")
	}

	// Run it: the handler module from the later layer, the data from the
	// code zip, the runtime from the first layer, no GREETING in the image.
	status, body := w.invoke(t, ref, "fn.handler", `{"m":8}`)
	assert.Equal(t, 200, status, body)
	assert.JSONEq(t, `{"from":"handlers layer","event":{"m":8},"data":"from-code-zip","runtime":"shell-runtime:3","greeting":"unset"}`, body)
	pulled, err := w.podman.ImageDigest(ctx, ref)
	require.NoError(t, err)
	assert.Equal(t, printed, pulled, "podman's digest of the pulled image")

	// The CreateFunction input for the image function.
	raw, err := os.ReadFile(cfgFile)
	require.NoError(t, err)
	t.Logf("emitted function configuration: %s", raw)
	var emitted map[string]any
	require.NoError(t, json.Unmarshal(raw, &emitted))
	assert.Equal(t, "Image", emitted["PackageType"])
	assert.Equal(t, map[string]any{"ImageUri": ref}, emitted["Code"], "the image by the digest migrate printed")
	for _, k := range []string{"Handler", "Runtime", "Layers"} {
		assert.NotContains(t, emitted, k, "image functions refuse %s", k)
	}
	assert.Equal(t, "greeter-image", emitted["FunctionName"])
	assert.Equal(t, role, emitted["Role"])
	assert.Equal(t, []any{w.arch}, emitted["Architectures"])
	assert.EqualValues(t, 256, emitted["MemorySize"])
	assert.EqualValues(t, 15, emitted["Timeout"])
	assert.Equal(t, map[string]any{"Variables": map[string]any{"GREETING": "hello-from-config"}}, emitted["Environment"])
	if info, err := os.Stat(cfgFile); assert.NoError(t, err) {
		assert.Equal(t, os.FileMode(0o600), info.Mode().Perm(), "the file holds environment values")
	}
}

// zipBytes is a generated zip's content, for the stand-in API to serve.
func zipBytes(t *testing.T, entries []ZipEntry) []byte {
	t.Helper()
	p := filepath.Join(t.TempDir(), "fn.zip")
	require.NoError(t, WriteZip(p, entries))
	b, err := os.ReadFile(p)
	require.NoError(t, err)
	return b
}
