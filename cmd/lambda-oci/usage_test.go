package main

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A mistyped command line is a usage error (exit 2) that names what the
// user probably meant.
func TestUsageErrorsSuggest(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"docker's --platform", []string{"build", "--platform", "linux/arm64"}, "unknown flag: --platform (lambda-oci build takes --arch)"},
		{"the AWS CLI's --function-name", []string{"migrate", "--function-name", "orders"}, "unknown flag: --function-name (lambda-oci migrate takes --function)"},
		{"a typo in a flag", []string{"build", "--tga", "x"}, "unknown flag: --tga; did you mean --tag?"},
		{"a typo in a flag of check", []string{"check", "--hander", "app.handler", "oci:x"}, "unknown flag: --hander; did you mean --handler?"},
		{"nothing near", []string{"build", "--frobnicate"}, "unknown flag: --frobnicate\n"},
		{"a typo in a command", []string{"biuld"}, `unknown command "biuld"; did you mean build?`},
		{"a singular", []string{"runtime"}, `unknown command "runtime"; did you mean runtimes?`},
		{"an unknown runtime", []string{"check", "--runtime", "pyhton3.12", "oci:x"}, `unknown runtime "pyhton3.12": did you mean python3.12?`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, nil, tt.args...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.want)
			assert.Equal(t, 1, strings.Count(stderr, "lambda-oci:"), "one error line: %s", stderr)
		})
	}
}

// Shell completion (cobra's completion command and its __complete
// protocol) offers runtime ids and architectures, and files for file flags.
func TestShellCompletion(t *testing.T) {
	code, out, stderr := runCmd(t, nil, "completion", "bash")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, out, "bash completion V2 for lambda-oci")

	complete := func(args ...string) []string {
		t.Helper()
		code, out, stderr := runCmd(t, nil, append([]string{"__complete"}, args...)...)
		require.Equal(t, 0, code, stderr)
		lines := strings.Split(strings.TrimSpace(out), "\n")
		return lines // the candidates, then ":DIRECTIVE"
	}
	got := complete("build", "--runtime", "python3.1")
	assert.Contains(t, got, "python3.12\tpublic.ecr.aws/lambda/python:3.12")
	assert.NotContains(t, strings.Join(got, "\n"), "nodejs", "only ids with the typed prefix")
	assert.Equal(t, ":4", got[len(got)-1], "no file completion for --runtime")

	for _, cmd := range []string{"build", "check", "fix"} {
		got = complete(cmd, "--arch", "")
		assert.Equal(t, []string{"x86_64\tlinux/amd64", "arm64\tlinux/arm64", ":4"}, got, cmd)
	}
	assert.Equal(t, []string{"arm64\tlinux/arm64", ":4"}, complete("build", "--arch", "a"))
	got = complete("check", "--runtime", "")
	assert.NotContains(t, strings.Join(got, "\n"), "go1.x", "deprecated ids are not offered")

	// --code completes files with the zip extension (directory 16 | filter 8).
	got = complete("build", "--code", "")
	assert.Equal(t, []string{"zip", ":8"}, got)
	got = complete("build", "--oci-layout", "")
	assert.Equal(t, ":16", got[len(got)-1], "directories only")
}

// Every missing required flag is named in one run.
func TestMissingFlagsAllAtOnce(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"build with nothing", []string{"build"}, "missing required flags: --code ZIP|DIR (the function code); " +
			"--handler HANDLER (it becomes CMD, the one argument the Lambda entrypoint takes); --runtime ID or --base REF; " +
			"an output: --oci-layout DIR, --tarball FILE and/or --tag REF"},
		{"build with a runtime only", []string{"build", "--runtime", "python3.12"}, "missing required flags: --code ZIP|DIR (the function code); --handler"},
		{"migrate with nothing", []string{"migrate"}, "migrate: missing required flags: --function NAME|ARN; an output: --oci-layout DIR"},
		{"convert without -o", []string{"convert", "layer.zip"}, "convert: missing required flag: -o OUT.tar.gz"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := runCmd(t, nil, tt.args...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, tt.want)
		})
	}
}

// A push target without a registry host would go to Docker Hub, where
// Lambda cannot pull from: refused before any work, with the ECR form.
func TestTagWithoutRegistryHostRefused(t *testing.T) {
	for _, tag := range []string{"myfunc:latest", "acme/myfunc:v1"} {
		t.Run(tag, func(t *testing.T) {
			dir := t.TempDir()
			lay := filepath.Join(dir, "layout")
			code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--tag", tag, "--oci-layout", lay)...)
			assert.Equal(t, exitUsage, code, stderr)
			assert.Empty(t, stdout)
			assert.Contains(t, stderr, `--tag: tag "`+tag+`": no registry host: it would be pushed to index.docker.io/`)
			assert.Contains(t, stderr, "hint: Lambda pulls images only from Amazon ECR: write the registry host out, e.g. --tag ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG")
			assert.NoDirExists(t, lay, "refused before anything is written")
		})
	}
	// Written out, Docker Hub is the user's choice: refused only later, by
	// the network (nothing listens here), not by the parser.
	code, _, stderr := runCmd(t, cacheEnv(t), demoArgs("--tag", "localhost:1/myfunc:latest", "--retries", "0")...)
	assert.Equal(t, exitFailure, code, stderr)
	assert.NotContains(t, stderr, "no registry host")
}

// Every --json object starts with schemaVersion 1.
func TestJSONSchemaVersion(t *testing.T) {
	dir := t.TempDir()
	for _, args := range [][]string{
		{"runtimes", "--json"},
		{"convert", demoLayer, "-o", filepath.Join(dir, "layer.tar.gz"), "--json"},
		demoArgs("--oci-layout", filepath.Join(dir, "layout"), "--json"),
		{"check", "oci:" + filepath.Join(dir, "layout"), "--json"},
		{"fix", "oci:" + filepath.Join(dir, "layout"), "--tarball", filepath.Join(dir, "fixed.tar"), "--json"},
	} {
		t.Run(args[0], func(t *testing.T) {
			code, stdout, stderr := runCmd(t, cacheEnv(t), args...)
			require.Equal(t, 0, code, stderr)
			var obj map[string]any
			require.NoError(t, json.Unmarshal([]byte(stdout), &obj), stdout)
			assert.Equal(t, float64(1), obj["schemaVersion"], stdout)
		})
	}
	// migrate's: TestMigrateCreateFunction.
}
