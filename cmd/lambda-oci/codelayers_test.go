package main

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// --code-layers: by default code vendoring node_modules/ becomes a
// dependency layer and an application layer; --code-layers 1 keeps one
// layer; anything else is a usage error naming the flag.
func TestBuildCodeLayersFlag(t *testing.T) {
	code := testutil.WriteZip(t, "code.zip",
		testutil.F("index.js", 0o644, "exports.handler = async () => 1;\n"),
		testutil.F("node_modules/ms/index.js", 0o644, "module.exports = () => 1000;\n"))
	kinds := func(extra ...string) []string {
		args := append([]string{"build", "--base", fixtureBase, "--runtime", "nodejs22.x", "--arch", "x86_64",
			"--code", code, "--handler", "index.handler", "--oci-layout", filepath.Join(t.TempDir(), "o"), "--json"}, extra...)
		exit, stdout, stderr := runCmd(t, cacheEnv(t), args...)
		require.Equal(t, 0, exit, stderr)
		var res buildOutput
		require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
		var out []string
		for _, l := range res.Layers {
			out = append(out, l.Kind)
		}
		return out
	}
	assert.Equal(t, []string{"base", "base", "code-deps", "code"}, kinds())
	assert.Equal(t, []string{"base", "base", "code"}, kinds("--code-layers", "1"))

	exit, _, stderr := runCmd(t, cacheEnv(t), demoArgs("--code-layers", "3", "--oci-layout", filepath.Join(t.TempDir(), "o"))...)
	assert.Equal(t, 2, exit)
	assert.Contains(t, stderr, "--code-layers 3")
}
