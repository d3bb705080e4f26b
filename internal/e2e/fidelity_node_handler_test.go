package e2e

import (
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 18, the first Node.js case: the handler's module exists only in a
// layer, at /opt/nodejs/node_modules/layerfn.mjs (or .cjs). AWS's runtime
// interface client (aws/aws-lambda-nodejs-runtime-interface-client,
// src/UserFunction.js, _tryRequire) tries .js, .mjs and .cjs only in the
// task root and reaches NODE_PATH (the layers) only through
// require.resolve(module, {paths: [appRoot, moduleRoot]}), which tries
// .js, .json and .node: the module is never found. The base's runtime
// loop (langruntimes.go) does the same, with the host's node doing the
// resolving. lambda-oci build refuses it (exit 3,
// handler-missing naming the file).
//
// To show the refusal is right, the same inputs are built with the check
// pointed elsewhere: with --base, --runtime only selects the handler
// convention, and provided.al2023's is satisfied by the base's own
// /var/runtime/bootstrap, which also means no bootstrap link layer is
// added: the image is the one the refused build would have pushed. That
// image fails at invoke with Runtime.ImportModuleError "Cannot find module
// 'layerfn'", and `lambda-oci check` (the family now told by the base's
// node) refuses it too. In the same image a task-root module that loads
// layerfn by its full path answers, so the file itself is readable and
// valid: only the runtime's lookup misses it.
func (w *world) testNodeHandlerLayerOnly(t *testing.T) {
	nb := w.nodeBase(t)
	for _, c := range []struct {
		ext, kind, module, via string
	}{
		{".mjs", "esm", "export const handler = async (event) => ({ from: 'layer', kind: 'esm', event });\n",
			"export { handler } from '/opt/nodejs/node_modules/layerfn.mjs';\n"},
		{".cjs", "cjs", "exports.handler = async (event) => ({ from: 'layer', kind: 'cjs', event });\n",
			"module.exports = require('/opt/nodejs/node_modules/layerfn.cjs');\n"},
	} {
		t.Run(c.ext, func(t *testing.T) {
			file := "/opt/nodejs/node_modules/layerfn" + c.ext
			fn := function{
				base: nb.ref,
				layers: [][]ZipEntry{{
					{Name: "nodejs/", Mode: os.ModeDir | 0o755},
					{Name: "nodejs/node_modules/", Mode: os.ModeDir | 0o755},
					{Name: "nodejs/node_modules/layerfn" + c.ext, Mode: 0o644, Body: c.module},
				}},
				code:    []ZipEntry{{Name: "via" + c.ext, Mode: 0o644, Body: c.via}},
				handler: "layerfn.handler",
				extra:   nb.runtime,
			}
			repo := "fn/node-layer-only" + strings.ReplaceAll(c.ext, ".", "-")
			_, stderr, err := w.build(t, repo, fn)
			assert.Equal(t, 3, exitStatus(t, err), "exit status 3: not Lambda-ready")
			assert.Contains(t, stderr, "handler-missing")
			assert.Contains(t, stderr, "found "+file, "the refusal names the module the runtime will not load")
			w.assertNotPushed(t, repo)

			unchecked := fn
			unchecked.extra = []string{"--runtime", "provided.al2023"}
			ref := w.mustBuild(t, repo+"-unchecked", unchecked)
			assert.Len(t, w.manifest(t, ref).Layers, nb.layers+2, "base, layer and code: no bootstrap link layer")
			assert.Equal(t, []string{"layerfn.handler"}, w.config(t, ref).Config.Cmd)
			rep := w.checkJSON(t, 3, ref)
			var handler []string
			for _, f := range rep.Findings {
				if f.Severity == "error" {
					assert.Equal(t, "handler-missing", f.Rule, "the only error: %+v", f)
					handler = append(handler, f.Message)
				}
			}
			require.Len(t, handler, 1, "%+v", rep.Findings)
			assert.Contains(t, handler[0], file)

			status, body := w.invoke(t, ref, "layerfn.handler", `{"n":1}`)
			assert.Equal(t, 502, status, "the emulator reports an init error as 502")
			var got struct{ ErrorType, ErrorMessage string }
			require.NoError(t, json.Unmarshal([]byte(body), &got), body)
			assert.Equal(t, "Runtime.ImportModuleError", got.ErrorType)
			assert.Contains(t, got.ErrorMessage, "Cannot find module 'layerfn'")

			status, body = w.invoke(t, ref, "via.handler", `{"n":1}`)
			assert.Equal(t, 200, status, body)
			assert.JSONEq(t, `{"from":"layer","kind":"`+c.kind+`","event":{"n":1}}`, body)
		})
	}
}

// Issue 18, the second Node.js case: the handler lib.handler with
// /var/task/lib/index.js. The runtime requires /var/task/lib because it
// exists (UserFunction.js: extensionless paths are required), and require
// loads a directory through its index.js: lambda-oci build accepts it and
// the invoke answers from lib/index.js.
func (w *world) testNodeHandlerDirModule(t *testing.T) {
	nb := w.nodeBase(t)
	ref := w.mustBuild(t, "fn/node-dir-module", function{
		base: nb.ref,
		code: []ZipEntry{
			nodeCode[0], // probe.cjs
			{Name: "lib/", Mode: os.ModeDir | 0o755},
			{Name: "lib/index.js", Mode: 0o644, Body: `const probe = require('../probe.cjs');
exports.handler = async (event) => ({ file: __filename, event, probe: probe() });
`},
		},
		handler: "lib.handler",
		extra:   nb.runtime,
	})
	status, body := w.invoke(t, ref, "lib.handler", `{"n":2}`)
	require.Equal(t, 200, status, body)
	var got struct {
		File  string         `json:"file"`
		Event map[string]any `json:"event"`
		Probe map[string]any `json:"probe"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assert.Equal(t, "/var/task/lib/index.js", got.File, "the directory module's index.js answers")
	assert.EqualValues(t, map[string]any{"n": float64(2)}, got.Event)
	assertLambdaUser(t, got.Probe)
}
