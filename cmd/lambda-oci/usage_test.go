package main

import (
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
