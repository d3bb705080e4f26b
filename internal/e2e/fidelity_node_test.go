package e2e

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// nodeFidelity is what the Node.js scenarios share.
type nodeFidelity struct {
	w     *world
	node  HostNode
	base  string
	npm   []ZipEntry // nodejs/node_modules/{sharp,@img/...,ms,...}
	extra []string   // --runtime nodejsNN.x when lambda-oci knows it
}

func (w *world) testFidelityNode(t *testing.T) {
	testRequireTool(t, "node", "ldd")
	npmDir := filepath.Join(NPMCacheDir(), "layer")
	requireFile(t, filepath.Join(npmDir, "node_modules", "sharp", "package.json"), installHint+" (npm packages)")
	nb := w.nodeBase(t)
	f := &nodeFidelity{w: w, node: nb.node, base: nb.ref, extra: nb.runtime}
	var err error
	f.npm, err = NPMLayer(npmDir)
	require.NoError(t, err)

	t.Run("native package from a layer, CommonJS, ES module and .cjs handlers", f.testNative)
	t.Run("versioned layer folder overrides the plain one", f.testOverride)
	t.Run("control: host-architecture native layer refused for the other architecture", f.testForeignArch)
}

// nodeCode is the function's code zip: three handlers, one per module kind
// Lambda's Node.js runtime loads, and the probe they share.
var nodeCode = []ZipEntry{
	{Name: "probe.cjs", Mode: 0o644, Body: `const fs = require('node:fs');
module.exports = function probe() {
  const out = { uid: process.getuid(), gid: process.getgid() };
  for (const [name, p] of [['task_root', '/var/task/probe'], ['opt', '/opt/probe']]) {
    try { fs.writeFileSync(p, ''); out[name] = 'written'; } catch (e) { out[name] = e.code; }
  }
  return out;
};
`},
	// CommonJS (.js, no "type": "module"): sharp's native addon and libvips
	// do the work; ms is the pure package.
	{Name: "index.js", Mode: 0o644, Body: `const sharp = require('sharp');
const ms = require('ms');
const probe = require('./probe.cjs');
exports.handler = async (event) => {
  const { r, g, b } = event.color;
  const px = await sharp({ create: { width: 8, height: 8, channels: 3, background: { r, g, b } } })
    .resize(2, 2).raw().toBuffer();
  return { kind: 'commonjs', pixels: Array.from(px), sharp: require.resolve('sharp'), ms: ms(event.ms), probe: probe() };
};
`},
	// An ES module handler; packages from the layer through createRequire,
	// which searches NODE_PATH like require.
	{Name: "esm.mjs", Mode: 0o644, Body: `import { createRequire } from 'node:module';
import probe from './probe.cjs';
const require = createRequire(import.meta.url);
const sharp = require('sharp');
export const handler = async () => {
  const png = await sharp({ create: { width: 3, height: 2, channels: 4, background: { r: 0, g: 0, b: 0, alpha: 1 } } }).png().toBuffer();
  const meta = await sharp(png).metadata();
  return { kind: 'esm', url: import.meta.url, format: meta.format, width: meta.width, height: meta.height, probe: probe() };
};
`},
	{Name: "legacy.cjs", Mode: 0o644, Body: `const ms = require('ms');
const probe = require('./probe.cjs');
module.exports.handler = async (event) => ({ kind: 'cjs', ms: ms(event.ms), ms_from: require.resolve('ms'), probe: probe() });
`},
}

// Scenario 2: the handlers in the code zip require sharp (a native addon
// and libvips, prebuilt for linux from the npm registry) and ms from a layer
// made by npm install, and get sharp's computed pixels back; an ES module
// handler (.mjs) and a .cjs handler load too.
func (f *nodeFidelity) testNative(t *testing.T) {
	ref := f.w.mustBuild(t, "fn/node-native", function{
		base: f.base, layers: [][]ZipEntry{f.npm}, code: nodeCode, handler: "index.handler", extra: f.extra,
	})

	status, body := f.w.invoke(t, ref, "index.handler", `{"color":{"r":200,"g":100,"b":50},"ms":5400000}`)
	require.Equal(t, 200, status, body)
	var cjs struct {
		Kind   string         `json:"kind"`
		Pixels []int          `json:"pixels"`
		Sharp  string         `json:"sharp"`
		MS     string         `json:"ms"`
		Probe  map[string]any `json:"probe"`
	}
	require.NoError(t, json.Unmarshal([]byte(body), &cjs), body)
	assert.Equal(t, "commonjs", cjs.Kind)
	assert.Equal(t, []int{200, 100, 50, 200, 100, 50, 200, 100, 50, 200, 100, 50}, cjs.Pixels, "2x2 pixels of the resized image, computed by libvips")
	assert.Equal(t, "/opt/nodejs/node_modules/sharp/lib/index.js", cjs.Sharp, "sharp comes from the layer")
	assert.Equal(t, "2h", cjs.MS)
	assertLambdaUser(t, cjs.Probe)

	status, body = f.w.invoke(t, ref, "esm.handler", `{}`)
	require.Equal(t, 200, status, body)
	var esm map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &esm), body)
	assert.Equal(t, "esm", esm["kind"])
	assert.Equal(t, "file:///var/task/esm.mjs", esm["url"], "loaded as an ES module")
	assert.Equal(t, "png", esm["format"])
	assert.EqualValues(t, 3, esm["width"])
	assert.EqualValues(t, 2, esm["height"])
	assertLambdaUser(t, esm["probe"].(map[string]any))

	status, body = f.w.invoke(t, ref, "legacy.handler", `{"ms":90000}`)
	require.Equal(t, 200, status, body)
	var legacy map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &legacy), body)
	assert.Equal(t, map[string]any{"kind": "cjs", "ms": "2m", "ms_from": "/opt/nodejs/node_modules/ms/index.js"},
		map[string]any{"kind": legacy["kind"], "ms": legacy["ms"], "ms_from": legacy["ms_from"]})
	assertLambdaUser(t, legacy["probe"].(map[string]any))
}

// Scenario 3 for Node.js: a second layer ships its own ms under
// nodejs/nodeNN/node_modules, which NODE_PATH searches before
// nodejs/node_modules: it wins over the first layer's, whose sharp stays.
func (f *nodeFidelity) testOverride(t *testing.T) {
	dir := "nodejs/node" + f.node.Major + "/node_modules/ms/"
	versioned := []ZipEntry{
		{Name: "nodejs/", Mode: os.ModeDir | 0o755},
		{Name: "nodejs/node" + f.node.Major + "/", Mode: os.ModeDir | 0o755},
		{Name: "nodejs/node" + f.node.Major + "/node_modules/", Mode: os.ModeDir | 0o755},
		{Name: dir, Mode: os.ModeDir | 0o755},
		{Name: dir + "package.json", Mode: 0o644, Body: `{"name":"ms","version":"99.0.0","main":"index.js"}`},
		{Name: dir + "index.js", Mode: 0o644, Body: "module.exports = (n) => 'patched:' + n;\n"},
	}
	ref := f.w.mustBuild(t, "fn/node-override", function{
		base: f.base, layers: [][]ZipEntry{f.npm, versioned}, code: nodeCode, handler: "legacy.handler", extra: f.extra,
	})
	status, body := f.w.invoke(t, ref, "legacy.handler", `{"ms":90000}`)
	require.Equal(t, 200, status, body)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(body), &got), body)
	assert.Equal(t, "patched:90000", got["ms"], "the versioned folder's ms wins")
	assert.Equal(t, "/opt/"+dir+"index.js", got["ms_from"])
	assertLambdaUser(t, got["probe"].(map[string]any))
}

// Scenario 5b: the npm layer holds native code for the host's architecture
// (on x86_64 CI: an x86-64 .node addon and libvips); built for the other
// architecture it is refused before anything is pushed, naming the addon.
// Its acceptance for the host's architecture is testNative.
func (f *nodeFidelity) testForeignArch(t *testing.T) {
	other, _ := OtherArch(runtime.GOARCH)
	goOther := map[string]string{"x86_64": "amd64", "arm64": "arm64"}[other]
	base := f.w.otherArchBase(t, goOther)
	repo := "fn/node-native-" + other
	dir := t.TempDir()
	layer := filepath.Join(dir, "layer.zip")
	code := filepath.Join(dir, "code.zip")
	require.NoError(t, WriteZip(layer, f.npm))
	require.NoError(t, WriteZip(code, nodeCode))
	args := []string{"build", "--base", base, "--arch", other, "--cache-dir", f.w.cacheDir,
		"--layer", layer, "--code", code, "--handler", "index.handler", "--tag", f.w.reg.Host + "/" + repo + ":1"}
	args = append(args, f.extra...)
	_, stderr, err := f.w.lambdaOCI(t.Context(), args...)
	t.Logf("lambda-oci %v\nstderr:\n%s", args, stderr)
	var exit *exec.ExitError
	require.ErrorAs(t, err, &exit, "a native layer of the wrong architecture must be refused")
	assert.Equal(t, 3, exit.ExitCode(), "exit status 3: not Lambda-ready")
	hostPkg := map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
	assert.Contains(t, stderr, "/opt/nodejs/node_modules/@img/sharp-linux-"+hostPkg+"/lib/sharp-linux-"+hostPkg+".node")
	assert.Contains(t, stderr, "not built for "+other)
	f.w.assertNotPushed(t, repo)
}

// otherArchBase pushes the shell base recorded for goarch (its binaries are
// the host's: it is only built on, never run).
func (w *world) otherArchBase(t *testing.T, goarch string) string {
	t.Helper()
	busybox, rie := lookPaths(t, "busybox", "aws-lambda-rie")
	img, err := BuildBase(BaseOptions{BusyboxPath: busybox, RIEPath: rie, Arch: goarch})
	require.NoError(t, err)
	ref := w.reg.Host + "/lambda/shell-" + goarch + ":1"
	r, err := name.ParseReference(ref)
	require.NoError(t, err)
	_, err = PushIndex(t.Context(), r, img, w.remoteOpts...)
	require.NoError(t, err)
	return ref
}
