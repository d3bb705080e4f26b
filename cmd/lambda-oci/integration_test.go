package main

// Independent consumers read what build writes: skopeo (manifest type,
// config), umoci (files, modes, symlinks, parents on disk), podman (load
// and name). None of them shares code with lambda-oci. Each test skips
// locally when the tool is missing and fails in CI (testregistry.RequireTool).

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

const imageName = "localhost/lambda-function:latest"

func tool(t *testing.T, env []string, name string, args ...string) []byte {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Env = append(os.Environ(), env...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	require.NoError(t, err, "%s %s: %s", name, strings.Join(args, " "), stderr.String())
	return out
}

// buildDemo builds the demo on base into an OCI layout and a tarball and
// returns the JSON result.
func buildDemo(t *testing.T, base string, extra ...string) (res buildOutput, lay, tb string) {
	t.Helper()
	// podman derives a name from the layout path and refuses upper case,
	// which t.TempDir() has (the test's name).
	dir, err := os.MkdirTemp("", "lambda-oci-it-")
	require.NoError(t, err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	lay, tb = filepath.Join(dir, "layout"), filepath.Join(dir, "image.tar")
	args := append([]string{"build", "--base", base, "--layer", demoLayer, "--code", demoCode,
		"--handler", "app.handler", "--oci-layout", lay, "--tarball", tb, "--json"}, extra...)
	code, stdout, stderr := runCmd(t, cacheEnv(t), args...)
	require.Equal(t, 0, code, stderr)
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	return res, lay, tb
}

type rawManifest struct {
	MediaType string `json:"mediaType"`
	Config    struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"config"`
	Layers []struct {
		MediaType string `json:"mediaType"`
		Digest    string `json:"digest"`
	} `json:"layers"`
}

func sha256Hex(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

func checkConfig(t *testing.T, raw []byte, arch string) {
	t.Helper()
	var cf v1.ConfigFile
	require.NoError(t, json.Unmarshal(raw, &cf), string(raw))
	assert.Equal(t, []string{"app.handler"}, cf.Config.Cmd)
	assert.Equal(t, []string{"/lambda-entrypoint.sh"}, cf.Config.Entrypoint)
	assert.Equal(t, "/var/task", cf.Config.WorkingDir)
	assert.Equal(t, basegen.Env, cf.Config.Env)
	assert.Equal(t, arch, cf.Architecture)
	assert.Len(t, cf.RootFS.DiffIDs, 4)
}

// skopeo on the OCI layout of an OCI-format build: the manifest bytes are
// the ones we hashed, the types are OCI, the config is the Lambda config.
func TestIntegrationSkopeoOCILayout(t *testing.T) {
	testregistry.RequireTool(t, "skopeo")
	res, lay, _ := buildDemo(t, fixtureBase)
	src := "oci:" + lay + ":" + imageName
	raw := tool(t, nil, "skopeo", "inspect", "--raw", src)
	assert.Equal(t, res.Digest, sha256Hex(raw), "skopeo reads the manifest we built")
	var m rawManifest
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, string(types.OCIManifestSchema1), m.MediaType)
	assert.Equal(t, string(types.OCIConfigJSON), m.Config.MediaType)
	require.Len(t, m.Layers, 4)
	for i, l := range m.Layers {
		assert.Equal(t, string(types.OCILayer), l.MediaType)
		assert.Equal(t, res.Layers[i].Digest, l.Digest)
	}
	checkConfig(t, tool(t, nil, "skopeo", "inspect", "--config", "--raw", src), "amd64")
}

// A Docker-format base gives a Docker-format image; skopeo reads it through
// docker-archive: (Debian's skopeo does not read Docker types in a layout)
// and through a real registry, where the manifest bytes are ours.
func TestIntegrationSkopeoDockerFormat(t *testing.T) {
	testregistry.RequireTool(t, "skopeo")
	base := writeDockerBase(t)
	res, _, tb := buildDemo(t, base)
	assert.Equal(t, string(types.DockerManifestSchema2), res.MediaType)

	src := "docker-archive:" + tb
	raw := tool(t, nil, "skopeo", "inspect", "--raw", src)
	var m rawManifest
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, string(types.DockerManifestSchema2), m.MediaType)
	require.Len(t, m.Layers, 4)
	checkConfig(t, tool(t, nil, "skopeo", "inspect", "--config", "--raw", src), "amd64")

	reg := testregistry.Start(t, testregistry.Options{})
	tag := reg.Host + "/fn/docker:1"
	code, stdout, stderr := runCmd(t, cacheEnv(t), "build", "--base", base, "--layer", demoLayer,
		"--code", demoCode, "--handler", "app.handler", "--tag", tag)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, reg.Host+"/fn/docker@"+res.Digest+"\n", stdout)
	raw = tool(t, nil, "skopeo", "inspect", "--tls-verify=false", "--raw", "docker://"+tag)
	assert.Equal(t, res.Digest, sha256Hex(raw))
	require.NoError(t, json.Unmarshal(raw, &m))
	assert.Equal(t, string(types.DockerManifestSchema2), m.MediaType)
	assert.Equal(t, string(types.DockerConfigJSON), m.Config.MediaType)
	for i, l := range m.Layers {
		assert.Equal(t, string(types.DockerLayer), l.MediaType)
		assert.Equal(t, res.Layers[i].Digest, l.Digest)
	}
}

// providedBase is the testdata base without /var/runtime/bootstrap (a
// whiteout layer), written as a layout, as a provided.* base.
func providedBase(t *testing.T) string {
	t.Helper()
	img, err := basegen.Image("x86_64")
	require.NoError(t, err)
	blob, err := basegen.TarGz([]basegen.File{
		{Name: "var/", Mode: fs.ModeDir | 0o755},
		{Name: "var/runtime/", Mode: fs.ModeDir | 0o755},
		{Name: "var/runtime/.wh.bootstrap", Mode: 0o644},
	}, basegen.Created)
	require.NoError(t, err)
	l, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(blob)), nil }, tarball.WithMediaType(types.OCILayer))
	require.NoError(t, err)
	img, err = mutate.Append(img, mutate.Addendum{Layer: l, MediaType: types.OCILayer})
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "provided")
	p, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})))
	return "oci:" + dir + ":latest"
}

// umoci unpacks the OCI layout to disk: the files, modes, symlinks and
// parent directories Lambda will see.
func TestIntegrationUmociUnpack(t *testing.T) {
	testregistry.RequireTool(t, "umoci")
	_, lay, _ := buildDemo(t, fixtureBase)
	bundle := filepath.Join(t.TempDir(), "bundle")
	args := []string{"unpack", "--image", lay + ":" + imageName, bundle}
	if os.Geteuid() != 0 {
		args = append([]string{"unpack", "--rootless"}, args[1:]...)
	}
	tool(t, nil, "umoci", args...)
	root := filepath.Join(bundle, "rootfs")
	for _, tc := range []struct {
		path   string
		mode   fs.FileMode
		target string
	}{
		{path: "lambda-entrypoint.sh", mode: 0o755},
		{path: "var/runtime/bootstrap", mode: 0o755},
		{path: "opt", mode: fs.ModeDir | 0o755},
		{path: "opt/python", mode: fs.ModeDir | 0o755},
		{path: "opt/python/demo_greeting", mode: fs.ModeDir | 0o755},
		{path: "opt/python/demo_greeting/__init__.py", mode: 0o644},
		{path: "opt/bin", mode: fs.ModeDir | 0o755},
		{path: "opt/bin/demo-hello", mode: 0o755},
		{path: "opt/bin/hello", mode: fs.ModeSymlink, target: "demo-hello"},
		{path: "var/task", mode: fs.ModeDir | 0o755},
		{path: "var/task/app.py", mode: 0o644},
	} {
		st, err := os.Lstat(filepath.Join(root, tc.path))
		if !assert.NoError(t, err, tc.path) {
			continue
		}
		if tc.mode&fs.ModeSymlink != 0 {
			assert.Equal(t, fs.ModeSymlink, st.Mode().Type(), tc.path)
			got, err := os.Readlink(filepath.Join(root, tc.path))
			require.NoError(t, err)
			assert.Equal(t, tc.target, got, tc.path)
			continue
		}
		assert.Equal(t, tc.mode, st.Mode()&(fs.ModeType|fs.ModePerm), tc.path)
	}
	body, err := os.ReadFile(filepath.Join(root, "var/task/app.py"))
	require.NoError(t, err)
	want, err := os.ReadFile(filepath.Join(demoCode, "app.py"))
	require.NoError(t, err)
	assert.Equal(t, string(want), string(body))

	// A provided.* build: the bootstrap link exists on disk with its parents.
	dir := t.TempDir()
	code := filepath.Join(dir, "code")
	require.NoError(t, os.MkdirAll(code, 0o755))
	require.NoError(t, os.WriteFile(filepath.Join(code, "bootstrap"), []byte("#!/bin/sh\n"), 0o755))
	lay2 := filepath.Join(dir, "layout")
	rc, _, stderr := runCmd(t, cacheEnv(t), "build", "--runtime", "provided.al2023", "--base", providedBase(t),
		"--code", code, "--handler", "function.handler", "--oci-layout", lay2)
	require.Equal(t, 0, rc, stderr)
	bundle2 := filepath.Join(dir, "bundle")
	args = []string{"unpack", "--image", lay2 + ":" + imageName, bundle2}
	if os.Geteuid() != 0 {
		args = append([]string{"unpack", "--rootless"}, args[1:]...)
	}
	tool(t, nil, "umoci", args...)
	got, err := os.Readlink(filepath.Join(bundle2, "rootfs/var/runtime/bootstrap"))
	require.NoError(t, err)
	assert.Equal(t, "/var/task/bootstrap", got)
	st, err := os.Stat(filepath.Join(bundle2, "rootfs/var/task/bootstrap"))
	require.NoError(t, err)
	assert.Equal(t, fs.FileMode(0o755), st.Mode().Perm())
}

// podmanEnv gives podman a throwaway store and the settings this machine
// needs (runc, cgroupfs, file events; see e2e-harness.md).
func podmanEnv(t *testing.T) []string {
	t.Helper()
	dir := t.TempDir()
	storage := filepath.Join(dir, "storage.conf")
	require.NoError(t, os.WriteFile(storage, []byte(`[storage]
driver = "vfs"
graphroot = "`+filepath.Join(dir, "graph")+`"
runroot = "`+filepath.Join(dir, "run")+`"
`), 0o644))
	conf := filepath.Join(dir, "containers.conf")
	require.NoError(t, os.WriteFile(conf, []byte(`[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "`+filepath.Join(dir, "events.log")+`"
`), 0o644))
	regs := filepath.Join(dir, "registries.conf")
	require.NoError(t, os.WriteFile(regs, []byte("unqualified-search-registries = []\n"), 0o644))
	return []string{"CONTAINERS_STORAGE_CONF=" + storage, "CONTAINERS_CONF=" + conf, "CONTAINERS_REGISTRIES_CONF=" + regs}
}

type podmanImage struct {
	ID           string   `json:"Id"`
	RepoTags     []string `json:"RepoTags"`
	Architecture string   `json:"Architecture"`
	Config       struct {
		Cmd        []string `json:"Cmd"`
		Entrypoint []string `json:"Entrypoint"`
		WorkingDir string   `json:"WorkingDir"`
	} `json:"Config"`
}

// podman loads the tarball (OCI- and Docker-format builds) and pulls the OCI
// layout by the name the layout records.
func TestIntegrationPodmanLoad(t *testing.T) {
	testregistry.RequireTool(t, "podman")
	for _, tc := range []struct {
		name string
		base func(*testing.T) string
	}{
		{"oci", func(*testing.T) string { return fixtureBase }},
		{"docker", writeDockerBase},
	} {
		t.Run(tc.name, func(t *testing.T) {
			env := podmanEnv(t)
			res, lay, tb := buildDemo(t, tc.base(t))
			out := tool(t, env, "podman", "load", "-i", tb)
			assert.Contains(t, string(out), imageName)
			if tc.name == "oci" {
				tool(t, env, "podman", "pull", "oci:"+lay+":"+imageName)
			}
			var imgs []podmanImage
			require.NoError(t, json.Unmarshal(tool(t, env, "podman", "image", "inspect", imageName), &imgs))
			require.Len(t, imgs, 1)
			got := imgs[0]
			assert.Contains(t, got.RepoTags, imageName)
			assert.Equal(t, "amd64", got.Architecture)
			assert.Equal(t, []string{"app.handler"}, got.Config.Cmd)
			assert.Equal(t, []string{"/lambda-entrypoint.sh"}, got.Config.Entrypoint)
			assert.Equal(t, "/var/task", got.Config.WorkingDir)
			// podman's image id is the config digest: the config we wrote.
			img := layoutImage(t, lay, imageName)
			cfgName, err := img.ConfigName()
			require.NoError(t, err)
			assert.Equal(t, cfgName.Hex, got.ID)
			assert.Equal(t, "linux/amd64", res.Platform)
		})
	}
}
