package e2e

import (
	"runtime"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// privateModesCode is a code zip as made by `zip -r` on a Unix machine with
// umask 077: files 0600, directories and the executable 0700.
var privateModesCode = []ZipEntry{
	{Name: "app.sh", Mode: 0o600, Body: `. "$LAMBDA_TASK_ROOT/lib/helper.sh"
handler() { printf '{"helper":"%s","tool":"%s"}' "$(helper)" "$("$LAMBDA_TASK_ROOT/bin/tool")"; }
`},
	{Name: "bin/", Mode: 0o700},
	{Name: "bin/tool", Mode: 0o700, Body: "#!/bin/sh\necho tool-ran\n"},
	{Name: "lib/", Mode: 0o700},
	{Name: "lib/helper.sh", Mode: 0o600, Body: "helper() { echo helper-sourced; }\n"},
}

// Scenario 1: the handler's module comes from a layer (/opt), the code zip
// carries only other files.
func (w *world) testScenario1(t *testing.T) {
	ref := w.mustBuild(t, "fn/scenario1", function{
		base: w.shellBase,
		layers: [][]ZipEntry{{
			{Name: "fn.sh", Mode: 0o644, Body: `handler() { printf '{"from":"opt","event":%s,"data":"%s"}' "$1" "$(cat "$LAMBDA_TASK_ROOT/data.txt")"; }` + "\n"},
		}},
		code:    []ZipEntry{{Name: "data.txt", Mode: 0o644, Body: "from-code-zip"}},
		handler: "fn.handler",
	})
	status, body := w.invoke(t, ref, "fn.handler", `{"x":1}`)
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `{"from":"opt","event":{"x":1},"data":"from-code-zip"}`, body)
}

// Scenario 2: the same module in the code zip and in a layer: the task root
// is searched first.
func (w *world) testScenario2(t *testing.T) {
	ref := w.mustBuild(t, "fn/scenario2", function{
		base: w.shellBase,
		layers: [][]ZipEntry{{
			{Name: "app.sh", Mode: 0o644, Body: `handler() { echo '"from layer"'; }` + "\n"},
		}},
		code:    []ZipEntry{{Name: "app.sh", Mode: 0o644, Body: `handler() { echo '"from task root"'; }` + "\n"}},
		handler: "app.handler",
	})
	status, body := w.invoke(t, ref, "app.handler", `{}`)
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `"from task root"`, body)
}

// Scenario 3: two layers carry /opt/shared.sh; the later one is what the
// function sees, while the earlier layer's other files stay.
func (w *world) testScenario3(t *testing.T) {
	ref := w.mustBuild(t, "fn/scenario3", function{
		base: w.shellBase,
		layers: [][]ZipEntry{
			{
				{Name: "shared.sh", Mode: 0o644, Body: `handler() { echo '{"winner":"first"}'; }` + "\n"},
				{Name: "first-only.txt", Mode: 0o644, Body: "kept"},
			},
			{
				{Name: "shared.sh", Mode: 0o644, Body: `handler() { printf '{"winner":"second","first_only":"%s"}' "$(cat /opt/first-only.txt)"; }` + "\n"},
			},
		},
		code:    []ZipEntry{{Name: "README", Mode: 0o644, Body: "code"}},
		handler: "shared.handler",
	})
	status, body := w.invoke(t, ref, "shared.handler", `{}`)
	assert.Equal(t, 200, status)
	assert.JSONEq(t, `{"winner":"second","first_only":"kept"}`, body)
}

// Scenario 4: a code zip with 0600 files and 0700 directories runs as the
// non-root user once lambda-oci has built it (the control, with the same
// files unnormalised, is testUnnormalisedControl).
func (w *world) testScenario4(t *testing.T) {
	ref := w.mustBuild(t, "fn/scenario4", function{
		base:    w.shellBase,
		code:    privateModesCode,
		handler: "app.handler",
	})
	status, body := w.invoke(t, ref, "app.handler", `{}`)
	assert.Equal(t, 200, status, body)
	assert.JSONEq(t, `{"helper":"helper-sourced","tool":"tool-ran"}`, body)
}

// providedBootstrap is a function's own custom runtime, shipped in its code
// zip as Lambda's provided.* runtimes expect.
const providedBootstrap = `#!/bin/sh
api="http://$AWS_LAMBDA_RUNTIME_API/2018-06-01/runtime"
while :; do
  wget -S -q -O /tmp/event "$api/invocation/next" 2>/tmp/headers || { sleep 1; continue; }
  id=$(grep -i 'lambda-runtime-aws-request-id:' /tmp/headers | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r ')
  printf '{"runtime":"own bootstrap","script":"%s","handler":"%s","event":%s}' "$0" "$_HANDLER" "$(cat /tmp/event)" >/tmp/response
  wget -q -O /dev/null --post-file=/tmp/response "$api/invocation/$id/response"
done
`

// Scenario 5: a provided-style function: the base has no
// /var/runtime/bootstrap, the code zip has bootstrap, lambda-oci wires one to
// the other.
func (w *world) testScenario5(t *testing.T) {
	ref := w.mustBuild(t, "fn/scenario5", function{
		base:    w.provBase,
		code:    []ZipEntry{{Name: "bootstrap", Mode: 0o755, Body: providedBootstrap}},
		handler: "function.handler",
	})
	status, body := w.invoke(t, ref, "function.handler", `{"n":5}`)
	assert.Equal(t, 200, status, body)
	assert.JSONEq(t, `{"runtime":"own bootstrap","script":"/var/runtime/bootstrap","handler":"function.handler","event":{"n":5}}`, body)
}

// Scenario 6a: a handler whose module is nowhere the runtime looks is
// refused at build time, and nothing reaches the registry.
// The shell base is no managed runtime, so the handler convention comes
// from --runtime python3.12 (with --base, --runtime only selects the
// handler check). The same build with the right handler goes through, so
// the refusal is about the handler and nothing else.
func (w *world) testScenario6Handler(t *testing.T) {
	code := []ZipEntry{
		{Name: "main.py", Mode: 0o644, Body: "def handler(event, context):\n    return event\n"},
	}
	python := []string{"--runtime", "python3.12"}
	repo := "fn/scenario6-handler"
	_, stderr, err := w.build(t, repo, function{base: w.shellBase, code: code, handler: "app.handler", extra: python})
	require.Error(t, err, "the build must refuse a handler whose module is not in the image")
	assert.Contains(t, stderr, `"app.handler"`)
	assert.Contains(t, stderr, "/var/task/app.py", "the error names the paths searched")
	w.assertNotPushed(t, repo)

	okRepo := "fn/scenario6-handler-ok"
	w.mustBuild(t, okRepo, function{base: w.shellBase, code: code, handler: "main.handler", extra: python})
	assert.Positive(t, w.pushes(t, okRepo), "the access log shows pushes (so its silence above means something)")
}

// Scenario 6b: a layer with an ELF file of the other architecture is refused
// at build time, naming the file, and nothing reaches the registry.
// The same layer with an ELF file of the host's architecture builds, so the
// refusal is about the machine field and nothing else.
func (w *world) testScenario6ELF(t *testing.T) {
	_, foreign := OtherArch(runtime.GOARCH)
	native := HostMachine(runtime.GOARCH)
	fn := func(machine uint16) function {
		return function{
			base: w.shellBase,
			layers: [][]ZipEntry{{
				{Name: "lib/", Mode: 0o755},
				{Name: "lib/libnative.so", Mode: 0o755, Body: string(MinimalELF(machine))},
			}},
			code:    []ZipEntry{{Name: "app.sh", Mode: 0o644, Body: "handler() { echo '{}'; }\n"}},
			handler: "app.handler",
		}
	}
	repo := "fn/scenario6-elf"
	_, stderr, err := w.build(t, repo, fn(foreign))
	require.Error(t, err, "the build must refuse a foreign-architecture ELF file")
	assert.Contains(t, stderr, "opt/lib/libnative.so")
	w.assertNotPushed(t, repo)

	okRepo := "fn/scenario6-elf-ok"
	w.mustBuild(t, okRepo, fn(native))
	assert.Positive(t, w.pushes(t, okRepo), "the access log shows pushes (so its silence above means something)")
}

// Scenario 7: podman pulls the tag lambda-oci pushed and records the very
// digest lambda-oci printed (pulling by tag, so podman computes the digest
// itself rather than being handed it).
func (w *world) testScenario7(t *testing.T) {
	repo := "fn/scenario7"
	ref := w.mustBuild(t, repo, function{
		base:    w.shellBase,
		code:    []ZipEntry{{Name: "app.sh", Mode: 0o644, Body: "handler() { echo '{}'; }\n"}},
		handler: "app.handler",
	})
	_, printed, ok := strings.Cut(ref, "@")
	require.True(t, ok)
	tag := w.reg.Host + "/" + repo + ":1"
	_, err := w.podman.Pull(t.Context(), tag)
	require.NoError(t, err)
	pulled, err := w.podman.ImageDigest(t.Context(), tag)
	require.NoError(t, err)
	assert.Equal(t, printed, pulled, "podman's digest of the pulled tag")
	assert.Equal(t, printed, w.tagDigest(t, repo), "the registry's digest of the tag")
}
