package main

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakeecr"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// ecrPassword is what the stand-in ECR's token carries and what the real
// registry's htpasswd accepts for user AWS (< 72 bytes, bcrypt's limit).
const ecrPassword = "cli-ecr-token-9d2f7a41c6e0"

type cliECR struct {
	reg  *testregistry.Server
	fake *fakeecr.Server
	env  map[string]string
}

// startCLIECR: docker-registry with TLS and htpasswd, behind the stand-in
// ECR, whose API the SDK reaches through AWS_ENDPOINT_URL_ECR.
func startCLIECR(t *testing.T) *cliECR {
	t.Helper()
	testregistry.RequireTool(t, "skopeo")
	reg := testregistry.Start(t, testregistry.Options{TLS: true, Username: "AWS", Password: ecrPassword})
	fake := fakeecr.Start(t, fakeecr.Options{Upstream: reg.URL(), UpstreamTransport: reg.Transport(), Password: ecrPassword})
	fake.Setenv(t)
	return &cliECR{reg: reg, fake: fake, env: cacheEnv(t)}
}

func (e *cliECR) build(t *testing.T, code string, extra ...string) (int, string, string) {
	t.Helper()
	args := []string{"build", "--base", fixtureBase, "--layer", demoLayer, "--code", code, "--handler", "app.handler",
		"--registry-auth", "ecr", "--region", "us-east-1"}
	return runCmd(t, e.env, append(args, extra...)...)
}

func blobUploads(reqs []fakeecr.Request) (sessions, commits, manifests int) {
	for _, r := range reqs {
		switch {
		case r.Method == "POST" && strings.Contains(r.Path, "/blobs/uploads"):
			sessions++
		case r.Method == "PUT" && strings.Contains(r.Path, "/blobs/uploads"):
			commits++
		case r.Method == "PUT" && strings.Contains(r.Path, "/manifests/"):
			manifests++
		}
	}
	return
}

// A full `lambda-oci build --tag ... --create-repository` through the
// stand-in ECR, read back with skopeo; then the same build again (nothing
// uploaded) and a code-only change (code layer + config + manifest only).
func TestBuildPushToECR(t *testing.T) {
	e := startCLIECR(t)
	tag := e.fake.Host + "/team/demo:v1"
	refsFile := filepath.Join(t.TempDir(), "image-refs")
	var allOutput strings.Builder

	code, stdout, stderr := e.build(t, demoCode, "--tag", tag, "--create-repository", "--image-refs", refsFile, "--json", "--verbose")
	allOutput.WriteString(stdout + stderr)
	require.Equal(t, 0, code, stderr)
	var out buildOutput
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	wantRef := e.fake.Host + "/team/demo@" + out.Digest
	assert.Equal(t, []string{wantRef}, out.Pushed)
	assert.Equal(t, wantRef, out.Reference)
	assert.Equal(t, "pushed", out.ConfigPush)
	for _, l := range out.Layers {
		assert.Equal(t, "pushed", l.Push, l.Digest)
	}
	refs, err := os.ReadFile(refsFile)
	require.NoError(t, err)
	assert.Equal(t, wantRef+"\n", string(refs))
	assert.True(t, e.fake.HasRepository("team/demo"))
	assert.Contains(t, e.fake.Calls(), "CreateRepository")
	assert.Zero(t, e.fake.BadSignatures())
	// Off a terminal: one line per blob, then the summary.
	assert.Len(t, regexp.MustCompile(`(?m)^sha256:[0-9a-f]{12}( \(config\))? pushed `).FindAllString(stderr, -1), len(out.Layers)+1, stderr)
	assert.Contains(t, stderr, fmt.Sprintf("lambda-oci: push: %d blob(s) pushed", len(out.Layers)+1))

	// skopeo, which no one here wrote, reads it back from the registry.
	inspect := exec.Command("skopeo", "inspect", "--cert-dir", e.reg.CertDir, "--creds", "AWS:"+ecrPassword,
		"docker://"+e.reg.Host+"/team/demo:v1")
	raw, err := inspect.CombinedOutput()
	require.NoError(t, err, string(raw))
	var si struct {
		Digest string
		Layers []string
	}
	require.NoError(t, json.Unmarshal(raw, &si))
	assert.Equal(t, out.Digest, si.Digest)
	assert.Len(t, si.Layers, len(out.Layers))

	// Same build again: no blob uploaded, the manifest not even re-put.
	before := len(e.fake.Requests())
	code, stdout, stderr = e.build(t, demoCode, "--tag", tag, "--json")
	allOutput.WriteString(stdout + stderr)
	require.Equal(t, 0, code, stderr)
	sessions, commits, manifests := blobUploads(e.fake.Requests()[before:])
	assert.Zero(t, sessions+commits, "unchanged build uploads no blob")
	assert.Zero(t, manifests)
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	for _, l := range out.Layers {
		assert.Equal(t, "exists", l.Push, l.Digest)
	}
	assert.Contains(t, stderr, "already present")

	// Code-only change.
	codeDir := t.TempDir()
	src, err := os.ReadFile(filepath.Join(demoCode, "app.py"))
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(codeDir, "app.py"), append(src, []byte("\n# v2\n")...), 0o644))
	before = len(e.fake.Requests())
	code, stdout, stderr = e.build(t, codeDir, "--tag", tag, "--json")
	allOutput.WriteString(stdout + stderr)
	require.Equal(t, 0, code, stderr)
	sessions, commits, manifests = blobUploads(e.fake.Requests()[before:])
	assert.Equal(t, 2, sessions, "code layer + config")
	assert.Equal(t, 2, commits, "code layer + config")
	assert.Equal(t, 2, manifests, "by digest, then the tag")
	require.NoError(t, json.Unmarshal([]byte(stdout), &out))
	pushed := 0
	for _, l := range out.Layers {
		if l.Push == "pushed" {
			pushed++
			assert.Equal(t, "code", l.Kind)
		}
	}
	assert.Equal(t, 1, pushed)

	// Credentials never appear, even with --verbose.
	s := allOutput.String()
	require.Contains(t, s, "ECR token", "the verbose log ran")
	for _, secret := range []string{ecrPassword, e.fake.Token(), fakeecr.SecretAccessKey,
		base64.StdEncoding.EncodeToString([]byte("AWS:" + ecrPassword))} {
		assert.NotContains(t, s, secret)
	}
}

// Each failure has its own line and hint on stderr, exit code 1, and
// nothing on stdout.
func TestBuildPushToECRFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(t *testing.T, e *cliECR)
		extra []string
		want  []string
	}{
		{"missing repository", nil, nil,
			[]string{"repository not found", "RepositoryNotFoundException", "/fn", "hint: create it first, or pass --create-repository"}},
		{"expired token", func(t *testing.T, e *cliECR) {
			e.fake.CreateRepository("fn", false)
			e.fake.Fail("GetAuthorizationToken", fakeecr.ExpiredToken)
		}, nil, []string{"AWS credentials expired", "ExpiredTokenException", "hint: the AWS session has expired"}},
		{"access denied", func(t *testing.T, e *cliECR) {
			e.fake.CreateRepository("fn", false)
			e.fake.Fail("GetAuthorizationToken", fakeecr.AccessDenied("GetAuthorizationToken"))
		}, nil, []string{"AWS access denied", "not authorized to perform: ecr:GetAuthorizationToken", "hint: grant the IAM action"}},
		{"wrong credentials", func(t *testing.T, e *cliECR) {
			t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
		}, []string{"--create-repository"}, []string{"unauthorized", "InvalidSignatureException", "hint: the credentials were refused"}},
		{"no credentials", func(t *testing.T, e *cliECR) {
			t.Setenv("AWS_ACCESS_KEY_ID", "")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		}, []string{"--create-repository"}, []string{"no AWS credentials found", "hint: configure AWS credentials"}},
		{"immutable tag", func(t *testing.T, e *cliECR) {
			e.fake.CreateRepository("fn", true)
			code, _, stderr := e.build(t, demoCode, "--tag", e.fake.Host+"/fn:v1", "--env", "FIRST=1")
			require.Equal(t, 0, code, stderr)
		}, nil, []string{"tag is immutable", "TAG_INVALID", "pushed by digest: ", "/fn@sha256:", "hint: the repository has immutable tags"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startCLIECR(t)
			if tt.setup != nil {
				tt.setup(t, e)
			}
			code, stdout, stderr := e.build(t, demoCode, append([]string{"--tag", e.fake.Host + "/fn:v1", "--quiet"}, tt.extra...)...)
			t.Logf("stderr:\n%s", stderr)
			assert.Equal(t, wantCode(tt.name, map[string]int{"expired token": exitAuth, "access denied": exitAuth, "wrong credentials": exitAuth, "no credentials": exitAuth}), code)
			assert.Empty(t, stdout)
			for _, w := range tt.want {
				assert.Contains(t, stderr, w)
			}
			// The error is one line, then the hint.
			var errLines []string
			for _, l := range strings.Split(strings.TrimSpace(stderr), "\n") {
				if strings.HasPrefix(l, "lambda-oci: ") && !strings.HasPrefix(l, "lambda-oci: fetching") &&
					!strings.HasPrefix(l, "lambda-oci: warning") {
					errLines = append(errLines, l)
				}
			}
			require.NotEmpty(t, errLines, stderr)
			last := strings.Split(strings.TrimSpace(stderr), "\n")
			assert.True(t, strings.HasPrefix(last[len(last)-1], "  hint: "), stderr)
			assert.NotContains(t, stderr, ecrPassword)
		})
	}
}
