package main

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runCmd runs one command line in-process: exit code, stdout, stderr.
// runCmd runs one command line in-process, as main does, with env as the
// whole environment; it is the one CLI runner of these tests.
func runCmd(t *testing.T, env map[string]string, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(k string) string { return env[k] }}
	code := run(context.Background(), args, a)
	return code, stdout.String(), stderr.String()
}

func TestRuntimesTable(t *testing.T) {
	code, out, errOut := runCmd(t, nil, "runtimes")
	require.Equal(t, 0, code, errOut)
	assert.Empty(t, errOut)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	assert.Regexp(t, `^RUNTIME\s+IMAGE\s+OS\s+FAMILY$`, lines[0])
	assert.Contains(t, out, "python3.12")
	assert.Regexp(t, `(?m)^python3\.12\s+public\.ecr\.aws/lambda/python:3\.12\s+AL2023\s+python$`, out)
	assert.NotContains(t, out, "go1.x", "deprecated ids only with --all")

	code, out, _ = runCmd(t, nil, "runtimes", "--all")
	require.Equal(t, 0, code)
	assert.Regexp(t, `(?m)^go1\.x\s+deprecated: use provided\.al2023`, out)
}

func TestRuntimesJSON(t *testing.T) {
	code, out, _ := runCmd(t, nil, "runtimes", "--json", "--all")
	require.Equal(t, 0, code)
	var res runtimesJSON
	require.NoError(t, json.Unmarshal([]byte(out), &res))
	assert.Equal(t, 1, res.SchemaVersion)
	byID := map[string]runtimeJSON{}
	for _, r := range res.Runtimes {
		byID[r.ID] = r
	}
	assert.Equal(t, "public.ecr.aws/lambda/nodejs:22-arm64", byID["nodejs22.x"].ArchImages["arm64"])
	assert.True(t, byID["python3.8"].Deprecated)
	assert.Equal(t, "python3.12", byID["python3.8"].Replacement)
}
