package main

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"context"
	"debug/elf"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	ggcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakeecr"
	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
)

// testBase is the committed offline base (python3.12-like, amd64 + arm64).
const testBase = "oci:../../testdata/base:latest"

const (
	migLayer1 = "arn:aws:lambda:us-east-1:123456789012:layer:base-libs:1"
	migLayer2 = "arn:aws:lambda:us-east-1:123456789012:layer:overrides:2"
	migLayer3 = "arn:aws:lambda:us-east-1:210987654321:layer:site-packages:5"
)

// unzipInOrder is what Lambda does with a function's layers: extract each
// into /opt, later ones replacing earlier files. Keys are image paths.
func unzipInOrder(t *testing.T, prefix string, zips ...[]byte) map[string]string {
	t.Helper()
	out := map[string]string{}
	for _, z := range zips {
		zr, err := zip.NewReader(bytes.NewReader(z), int64(len(z)))
		require.NoError(t, err)
		for _, f := range zr.File {
			if f.FileInfo().IsDir() {
				continue
			}
			rc, err := f.Open()
			require.NoError(t, err)
			b, err := io.ReadAll(rc)
			require.NoError(t, err)
			rc.Close()
			out[prefix+f.Name] = string(b)
		}
	}
	return out
}

// migration is one test's world: a stand-in Lambda API reached through the
// SDK's environment settings, an in-process registry, a cache directory.
type migration struct {
	fake     *fakelambda.Server
	registry *httptest.Server
	host     string
	env      map[string]string
	layers   [][]byte
	code     []byte
}

// newMigration starts the world; opts configure the stand-in Lambda API
// (its credentials, to share them with a stand-in ECR).
func newMigration(t *testing.T, opts ...fakelambda.Options) *migration {
	t.Helper()
	var o fakelambda.Options
	if len(opts) > 0 {
		o = opts[0]
	}
	fake := fakelambda.New(t, o)
	dir := t.TempDir()
	for _, k := range []string{"AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_DEFAULT_REGION",
		"AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_FULL_URI", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI"} {
		t.Setenv(k, "") // registers the restore
		os.Unsetenv(k)
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(dir, "aws-config"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(dir, "aws-credentials"))
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", fake.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", fake.AccessKeyID())
	t.Setenv("AWS_SECRET_ACCESS_KEY", fake.SecretAccessKey())
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("DOCKER_CONFIG", filepath.Join(dir, "docker"))

	reg := httptest.NewServer(ggcrregistry.New(ggcrregistry.Logger(log.New(io.Discard, "", 0))))
	t.Cleanup(reg.Close)

	m := &migration{
		fake:     fake,
		registry: reg,
		host:     strings.TrimPrefix(reg.URL, "http://"),
		env:      map[string]string{"LAMBDA_OCI_CACHE_DIR": filepath.Join(dir, "cache")},
	}
	m.layers = [][]byte{
		testutil.Zip(t,
			testutil.F("python/common.py", 0o644, "VERSION = 1\n"),
			testutil.F("python/one.py", 0o644, "ONE = 1\n"),
			testutil.F("bin/hello", 0o755, "#!/bin/sh\necho hello from layer 1\n")),
		testutil.Zip(t,
			testutil.F("python/common.py", 0o644, "VERSION = 2\n"),
			testutil.F("python/two.py", 0o644, "TWO = 2\n")),
		testutil.Zip(t,
			testutil.F("python/lib/python3.12/site-packages/three/__init__.py", 0o644, "THREE = 3\n"),
			testutil.F("bin/hello", 0o755, "#!/bin/sh\necho hello from layer 3\n")),
	}
	fake.AddLayer(fakelambda.Layer{ARN: migLayer1, Zip: m.layers[0], CompatibleRuntimes: []string{"python3.12"}})
	fake.AddLayer(fakelambda.Layer{ARN: migLayer2, Zip: m.layers[1]})
	fake.AddLayer(fakelambda.Layer{ARN: migLayer3, Zip: m.layers[2], CompatibleArchitectures: []string{"arm64"}})
	m.code = testutil.Zip(t, testutil.F("app.py", 0o644, "from common import VERSION\n\ndef handler(event, context):\n    return VERSION\n"))
	fake.AddFunction(m.function())
	return m
}

// function is the zip function the tests migrate.
func (m *migration) function() fakelambda.Function {
	return fakelambda.Function{
		Name:          "orders",
		Runtime:       "python3.12",
		Handler:       "app.handler",
		Role:          "arn:aws:iam::123456789012:role/orders",
		Architectures: []string{"arm64"},
		Layers:        []string{migLayer1, migLayer2, migLayer3},
		Environment:   map[string]string{"TABLE": "orders", "API_KEY": "s3cr3t"},
		Code:          m.code,
		Qualifiers:    map[string]string{"live": "3", "3": "3"},
		Config: map[string]any{
			"MemorySize":    512,
			"Timeout":       20,
			"VpcConfig":     map[string]any{"SubnetIds": []string{"subnet-1"}, "SecurityGroupIds": []string{"sg-1"}, "VpcId": "vpc-1"},
			"TracingConfig": map[string]any{"Mode": "Active"},
		},
	}
}

func (m *migration) run(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	a := &app{stdout: &stdout, stderr: &stderr, getenv: func(k string) string {
		if v, ok := m.env[k]; ok {
			return v
		}
		return os.Getenv(k)
	}}
	code := run(context.Background(), args, a)
	return code, stdout.String(), stderr.String()
}

// catalog lists the registry's repositories.
func (m *migration) catalog(t *testing.T) []string {
	t.Helper()
	resp, err := http.Get(m.registry.URL + "/v2/_catalog")
	require.NoError(t, err)
	defer resp.Body.Close()
	require.Equal(t, http.StatusOK, resp.StatusCode)
	var c struct {
		Repositories []string `json:"repositories"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&c))
	return c.Repositories
}

// flatten reads an image's flattened filesystem: regular files' contents by
// path (no leading slash).
func flatten(t *testing.T, img v1.Image) map[string]string {
	t.Helper()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	out := map[string]string{}
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		if h.Typeflag != tar.TypeReg {
			continue
		}
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out[strings.TrimPrefix(h.Name, "/")] = string(b)
	}
	return out
}

func under(files map[string]string, prefix string) map[string]string {
	out := map[string]string{}
	for k, v := range files {
		if strings.HasPrefix(k, prefix) {
			out[k] = v
		}
	}
	return out
}

func keys(m map[string]string) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func TestMigrateEndToEnd(t *testing.T) {
	m := newMigration(t)
	out := filepath.Join(t.TempDir(), "create.json")
	tag := m.host + "/orders:migrated"

	code, stdout, stderr := m.run(t, "migrate", "--function", "orders", "--base", testBase,
		"--tag", tag, "--emit-function-config", out, "--json")
	require.Equal(t, 0, code, stderr)

	var res migrateJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &res), stdout)
	assert.True(t, strings.HasPrefix(res.Reference, m.host+"/orders@sha256:"), res.Reference)
	assert.Equal(t, "orders", res.Function.Name)
	assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:orders", res.Function.ARN)
	assert.Equal(t, "python3.12", res.Runtime)
	var lambdaLayers []migrateLayerJSON
	for _, l := range res.Layers {
		if l.ARN != "" {
			lambdaLayers = append(lambdaLayers, l)
		}
	}
	require.Len(t, lambdaLayers, 3)
	for i, arn := range []string{migLayer1, migLayer2, migLayer3} {
		assert.Equal(t, arn, lambdaLayers[i].ARN)
		assert.Equal(t, "layer", lambdaLayers[i].Kind)
		assert.Equal(t, fakelambda.CodeSha256(m.layers[i]), lambdaLayers[i].CodeSha256)
		assert.True(t, strings.HasPrefix(lambdaLayers[i].Digest, "sha256:"), lambdaLayers[i].Digest)
	}
	assert.Equal(t, "linux/arm64", res.Platform)
	assert.Equal(t, []string{migLayer1, migLayer2, migLayer3}, res.Function.Layers)
	require.NotNil(t, res.FunctionConfig)
	assert.Equal(t, res.Reference, res.FunctionConfig.Code.ImageUri)
	assert.NotContains(t, stdout, "s3cr3t", "environment values are not printed")
	require.NotNil(t, res.FunctionConfig.Environment)
	assert.Contains(t, res.FunctionConfig.Environment.Variables, "API_KEY")

	// The pushed image, read back from the registry.
	ref, err := name.ParseReference(res.Reference)
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	require.NoError(t, validate.Image(img))
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Equal(t, "linux", cf.OS)
	assert.Equal(t, "arm64", cf.Architecture, "platform follows the function's Architectures")
	assert.Equal(t, []string{"app.handler"}, cf.Config.Cmd, "CMD is the handler")
	for _, e := range cf.Config.Env {
		assert.NotContains(t, e, "s3cr3t", "environment stays out of the image without --include-env")
	}
	layers, err := img.Layers()
	require.NoError(t, err)
	digests := map[string]bool{}
	for _, l := range layers {
		d, err := l.Digest()
		require.NoError(t, err)
		digests[d.String()] = true
	}
	for _, l := range res.Layers {
		assert.True(t, digests[l.Digest], "reported layer digest %s is in the image", l.Digest)
	}

	files := flatten(t, img)
	wantOpt := unzipInOrder(t, "opt/", m.layers...)
	assert.Equal(t, "VERSION = 2\n", wantOpt["opt/python/common.py"], "fixture: layer 2 overrides layer 1")
	assert.Equal(t, wantOpt, under(files, "opt/"), "/opt is the layers unzipped in order")
	assert.Equal(t, unzipInOrder(t, "var/task/", m.code), under(files, "var/task/"), "the code is at the task root")

	// The emitted configuration.
	raw, err := os.ReadFile(out)
	require.NoError(t, err)
	var emitted map[string]any
	require.NoError(t, json.Unmarshal(raw, &emitted))
	for _, k := range []string{"Handler", "Runtime", "Layers"} {
		assert.NotContains(t, emitted, k)
	}
	assert.Equal(t, "Image", emitted["PackageType"])
	assert.Equal(t, map[string]any{"ImageUri": res.Reference}, emitted["Code"])
	assert.Equal(t, "arn:aws:iam::123456789012:role/orders", emitted["Role"])
	assert.Equal(t, []any{"arm64"}, emitted["Architectures"])
	assert.EqualValues(t, 512, emitted["MemorySize"])
	assert.EqualValues(t, 20, emitted["Timeout"])
	assert.Equal(t, map[string]any{"Variables": map[string]any{"TABLE": "orders", "API_KEY": "s3cr3t"}}, emitted["Environment"])
	assert.Equal(t, map[string]any{"SubnetIds": []any{"subnet-1"}, "SecurityGroupIds": []any{"sg-1"}}, emitted["VpcConfig"])
	assert.Equal(t, map[string]any{"Mode": "Active"}, emitted["TracingConfig"])

	// stdout without --json is only the reference.
	code, stdout, stderr = m.run(t, "migrate", "--function", "orders", "--base", testBase, "--tag", tag)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, res.Reference+"\n", stdout)
}

func TestMigrateSecondRunDownloadsNothing(t *testing.T) {
	m := newMigration(t)
	dir := t.TempDir()
	args := []string{"migrate", "--function", "orders", "--base", testBase}

	code, first, stderr := m.run(t, append(args, "--oci-layout", filepath.Join(dir, "one"))...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 4, m.fake.Downloads(), "three layers and the code")
	assert.Equal(t, 3, m.fake.CallCount("GetLayerVersionByArn"))

	code, second, stderr := m.run(t, append(args, "--oci-layout", filepath.Join(dir, "two"))...)
	require.Equal(t, 0, code, stderr)
	assert.Equal(t, 4, m.fake.Downloads(), "layer versions and code come from the cache")
	assert.Equal(t, 3, m.fake.CallCount("GetLayerVersionByArn"), "cached layer versions need no API call")
	assert.Equal(t, 2, m.fake.CallCount("GetFunction"))
	assert.Equal(t, first, second, "same inputs, same image")
}

func TestMigrateIncludeEnv(t *testing.T) {
	m := newMigration(t)
	dir := t.TempDir()
	cfgPath := filepath.Join(dir, "create.json")
	code, stdout, stderr := m.run(t, "migrate", "--function", "orders", "--qualifier", "live", "--base", testBase, "--include-env",
		"--tag", m.host+"/orders:env", "--emit-function-config", cfgPath)
	require.Equal(t, 0, code, stderr)
	calls := m.fake.Calls()
	require.NotEmpty(t, calls)
	assert.Equal(t, "GetFunction", calls[0].Operation)
	assert.Equal(t, "live", calls[0].Query.Get("Qualifier"))
	ref, err := name.ParseReference(strings.TrimSpace(stdout))
	require.NoError(t, err)
	img, err := remote.Image(ref)
	require.NoError(t, err)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Contains(t, cf.Config.Env, "TABLE=orders")
	assert.Contains(t, cf.Config.Env, "API_KEY=s3cr3t")
	raw, err := os.ReadFile(cfgPath)
	require.NoError(t, err)
	assert.NotContains(t, string(raw), "Environment", "variables baked into the image are not repeated")
}

func TestMigrateWarnsAboutIncompatibleLayers(t *testing.T) {
	m := newMigration(t)
	m.fake.AddLayer(fakelambda.Layer{ARN: migLayer1, Zip: m.layers[0], CompatibleRuntimes: []string{"python3.11"}, CompatibleArchitectures: []string{"x86_64"}})
	code, stdout, stderr := m.run(t, "migrate", "--function", "orders", "--base", testBase,
		"--oci-layout", filepath.Join(t.TempDir(), "layout"), "--json")
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "warning: layer "+migLayer1)
	var res migrateJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	var found bool
	for _, w := range res.Warnings {
		if strings.Contains(w, migLayer1) {
			found = true
			assert.Contains(t, w, "runtime python3.12")
			assert.Contains(t, w, "architecture arm64")
		}
	}
	assert.True(t, found, "the warning is in the JSON result: %v", res.Warnings)
}

// withECR puts a stand-in ECR (API and registry front) before the test's
// registry; the stand-in Lambda API must have been started with the ECR
// stand-in's credentials (one AWS identity signs both). It returns the
// registry host to tag with, and the flags that reach it as ECR.
func (m *migration) withECR(t *testing.T) (host string, flags []string) {
	t.Helper()
	ecr := fakeecr.Start(t, fakeecr.Options{Upstream: m.registry.URL, UpstreamTransport: http.DefaultTransport, Password: "unused"})
	t.Setenv("AWS_ENDPOINT_URL_ECR", ecr.API.URL)
	return ecr.Host, []string{"--registry-auth", "ecr", "--region", "us-east-1", "--create-repository"}
}

// ecrLambdaOptions: the stand-in Lambda accepts the stand-in ECR's identity.
var ecrLambdaOptions = fakelambda.Options{AccessKeyID: fakeecr.AccessKeyID, SecretAccessKey: fakeecr.SecretAccessKey}

func TestMigrateCreateFunction(t *testing.T) {
	m := newMigration(t, ecrLambdaOptions)
	host, ecrFlags := m.withECR(t)
	m.fake.SetCreateOutcome(fakelambda.CreateOutcome{PendingPolls: 2})
	code, stdout, stderr := m.run(t, append([]string{"migrate", "--function", "orders", "--base", testBase,
		"--tag", host + "/orders:v1", "--create-function", "orders-image", "--json"}, ecrFlags...)...)
	require.Equal(t, 0, code, stderr)
	var res migrateJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.Equal(t, 1, res.SchemaVersion)
	require.NotNil(t, res.CreatedFunction)
	assert.Equal(t, "Active", res.CreatedFunction.State)
	assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:orders-image", res.CreatedFunction.ARN)
	// The wait is logged, but the outcome once: "Active" is said by one line.
	assert.Equal(t, 1, strings.Count(stderr, "Active"), stderr)
	assert.Contains(t, stderr, "function arn:aws:lambda:us-east-1:123456789012:function:orders-image is Active")

	reqs := m.fake.CreateRequests()
	require.Len(t, reqs, 1)
	var sent map[string]any
	require.NoError(t, json.Unmarshal(reqs[0], &sent))
	assert.Equal(t, "orders-image", sent["FunctionName"])
	assert.Equal(t, "Image", sent["PackageType"])
	assert.Equal(t, map[string]any{"ImageUri": res.Reference}, sent["Code"])
	for _, k := range []string{"Handler", "Runtime", "Layers"} {
		assert.NotContains(t, sent, k)
	}
	polls := 0
	for _, c := range m.fake.Calls() {
		if c.Operation == "GetFunction" && c.Path == "/2015-03-31/functions/orders-image" {
			polls++
		}
	}
	assert.Equal(t, 3, polls, "polled until Active")
}

// A function named by ARN is read in the ARN's region, whatever the
// configured one (here none), and its image function is created there
// (Lambda pulls from ECR in the function's region).
func TestMigrateFunctionARNTakesItsRegion(t *testing.T) {
	m := newMigration(t, ecrLambdaOptions)
	host, ecrFlags := m.withECR(t)
	os.Unsetenv("AWS_REGION") // newMigration's t.Setenv restores it
	fn := m.function()
	fn.Region = "eu-west-1"
	m.fake.AddFunction(fn)
	arn := "arn:aws:lambda:eu-west-1:123456789012:function:orders"
	code, stdout, stderr := m.run(t, append([]string{"migrate", "--function", arn, "--base", testBase,
		"--tag", host + "/orders:v1", "--create-function", "orders-image", "--json"}, ecrFlags...)...)
	require.Equal(t, 0, code, stderr)
	var res migrateJSON
	require.NoError(t, json.Unmarshal([]byte(stdout), &res))
	assert.Equal(t, "eu-west-1", res.Function.Region)
	assert.Equal(t, arn, res.Function.ARN)
	require.NotNil(t, res.CreatedFunction)
	assert.Equal(t, "arn:aws:lambda:eu-west-1:123456789012:function:orders-image", res.CreatedFunction.ARN)
	signed := map[string]bool{}
	for _, c := range m.fake.Calls() {
		if c.Operation == "GetFunction" || c.Operation == "CreateFunction" {
			assert.Equal(t, "eu-west-1", c.Region, "%s %s signed for the ARN's region", c.Operation, c.Path)
			signed[c.Operation] = true
		}
	}
	assert.True(t, signed["GetFunction"] && signed["CreateFunction"], "both calls made: %v", signed)
}

func TestMigrateFailuresPushNothing(t *testing.T) {
	tests := []struct {
		name    string
		prepare func(t *testing.T, m *migration)
		args    []string
		noTag   bool
		noAPI   bool // refused before any Lambda API call
		want    []string
	}{
		{
			name: "checksum mismatch on a layer download",
			prepare: func(t *testing.T, m *migration) {
				bad := bytes.Clone(m.layers[1])
				bad[len(bad)/2] ^= 0x55
				m.fake.AddLayer(fakelambda.Layer{ARN: migLayer2, Zip: m.layers[1], ServeZip: bad})
			},
			want: []string{migLayer2, "CodeSha256 mismatch"},
		},
		{
			name:    "expired download URL",
			prepare: func(t *testing.T, m *migration) { m.fake.SetExpired(true) },
			want:    []string{"HTTP 403", "Request has expired", "run again"},
		},
		{
			name: "missing layer version",
			prepare: func(t *testing.T, m *migration) {
				fn := m.function()
				fn.Layers = []string{migLayer1, "arn:aws:lambda:us-east-1:123456789012:layer:gone:9"}
				m.fake.AddFunction(fn)
			},
			want: []string{"arn:aws:lambda:us-east-1:123456789012:layer:gone:9", "ResourceNotFoundException"},
		},
		{
			name: "image function",
			prepare: func(t *testing.T, m *migration) {
				m.fake.AddFunction(fakelambda.Function{Name: "orders", PackageType: "Image", ImageUri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders:latest"})
			},
			want: []string{`"orders"`, "PackageType Image", "zip functions only"},
		},
		{
			name: "access denied",
			prepare: func(t *testing.T, m *migration) {
				m.fake.Fail("GetFunction", fakelambda.APIError{Status: 403, Type: "AccessDeniedException",
					Message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: lambda:GetFunction on resource: arn:aws:lambda:us-east-1:123456789012:function:orders"})
			},
			want: []string{"AccessDeniedException", "lambda:GetFunction"},
		},
		{
			name: "deprecated runtime",
			prepare: func(t *testing.T, m *migration) {
				fn := m.function()
				fn.Runtime, fn.Handler = "go1.x", "main"
				m.fake.AddFunction(fn)
			},
			want: []string{"go1.x", "provided.al2023", "bootstrap"},
		},
		{
			name:  "create function without a pushed image",
			args:  []string{"--oci-layout", "OUTDIR", "--create-function", "orders-image"},
			noTag: true,
			noAPI: true,
			want:  []string{"--create-function", "needs a pushed image", "--tag"},
		},
		{
			// Lambda would refuse the image URI only after the build and
			// the push: refused first, naming where Lambda pulls from.
			name:  "create function with a tag outside ECR",
			args:  []string{"--create-function", "orders-image"},
			noAPI: true,
			want:  []string{"--create-function", "not a private Amazon ECR repository", "ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG"},
		},
		{
			// Without a push the configuration could only name a local
			// image Lambda cannot pull.
			name:  "function config without a pushed image",
			args:  []string{"--oci-layout", "OUTDIR", "--tarball", "OUTDIR.tar"},
			noTag: true,
			noAPI: true,
			want:  []string{"--emit-function-config", "needs a pushed image", "--tag"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMigration(t)
			if tt.prepare != nil {
				tt.prepare(t, m)
			}
			dir := t.TempDir()
			args := []string{"migrate", "--function", "orders", "--base", testBase,
				"--emit-function-config", filepath.Join(dir, "create.json")}
			if !tt.noTag {
				args = append(args, "--tag", m.host+"/orders:migrated")
			}
			for _, a := range tt.args {
				args = append(args, strings.ReplaceAll(a, "OUTDIR", filepath.Join(dir, "layout")))
			}
			code, stdout, stderr := m.run(t, args...)
			t.Logf("stderr:\n%s", stderr)
			assert.Equal(t, wantCode(tt.name, map[string]int{"access denied": exitAuth, "create function without a pushed image": exitUsage,
				"create function with a tag outside ECR": exitUsage}), code)
			assert.Empty(t, stdout)
			for _, w := range tt.want {
				assert.Contains(t, stderr, w)
			}
			assert.Empty(t, m.catalog(t), "nothing pushed")
			_, err := os.Stat(filepath.Join(dir, "create.json"))
			assert.ErrorIs(t, err, fs.ErrNotExist, "no configuration emitted")
			assert.Empty(t, m.fake.CreateRequests())
			if tt.noAPI {
				assert.Empty(t, m.fake.Calls(), "refused before any API call")
			}
			entries, err := os.ReadDir(dir)
			require.NoError(t, err)
			assert.Empty(t, entries, "no output left behind")
		})
	}
}

// TestMigrateEnvAndArchFlags: --env and --allow-arch-mismatch mean what they
// mean for build.
func TestMigrateEnvAndArchFlags(t *testing.T) {
	m := newMigration(t)
	fn := m.function()
	// An x86-64 library in the code of an arm64 function.
	fn.Code = testutil.Zip(t,
		testutil.F("app.py", 0o644, "def handler(event, context):\n    return 1\n"),
		testutil.F("lib/native.so", 0o755, testutil.ELFHeader(elf.EM_X86_64)))
	m.fake.AddFunction(fn)
	dir := t.TempDir()

	code, stdout, stderr := m.run(t, "migrate", "--function", "orders", "--base", testBase,
		"--oci-layout", filepath.Join(dir, "refused"))
	assert.Equal(t, exitNotReady, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "/var/task/lib/native.so (x86-64)")
	assert.Contains(t, stderr, "--allow-arch-mismatch")
	assert.NoDirExists(t, filepath.Join(dir, "refused"))

	lay := filepath.Join(dir, "allowed")
	code, _, stderr = m.run(t, "migrate", "--function", "orders", "--base", testBase, "--include-env",
		"--allow-arch-mismatch", "--env", "TABLE=override", "--env", "EXTRA=1", "--oci-layout", lay)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stderr, "warning:")
	assert.Contains(t, stderr, "allowed for this build")
	img := layoutImage(t, lay, defaultImageName)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	assert.Contains(t, cf.Config.Env, "TABLE=override", "--env wins over the function's value")
	assert.NotContains(t, cf.Config.Env, "TABLE=orders")
	assert.Contains(t, cf.Config.Env, "EXTRA=1")
	assert.Contains(t, cf.Config.Env, "API_KEY=s3cr3t")

	code, _, stderr = m.run(t, "migrate", "--function", "orders", "--base", testBase, "--allow-arch-mismatch",
		"--env", "NOPE", "--oci-layout", filepath.Join(dir, "bad-env"))
	assert.Equal(t, 1, code)
	assert.Contains(t, stderr, `"NOPE"`)
}

// customRuntimeBase writes an OCI layout holding a single-platform arm64 base
// shaped like public.ecr.aws/lambda/provided but without
// /var/runtime/bootstrap, which a custom-runtime function brings itself.
func customRuntimeBase(t *testing.T) string {
	t.Helper()
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	for _, h := range []*tar.Header{
		{Name: "lambda-entrypoint.sh", Typeflag: tar.TypeReg, Mode: 0o755, Size: int64(len("#!/bin/sh\nexec /var/runtime/bootstrap\n"))},
		{Name: "var/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/runtime/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "var/task/", Typeflag: tar.TypeDir, Mode: 0o755},
		{Name: "opt/", Typeflag: tar.TypeDir, Mode: 0o755},
	} {
		require.NoError(t, tw.WriteHeader(h))
		if h.Typeflag == tar.TypeReg {
			_, err := io.WriteString(tw, "#!/bin/sh\nexec /var/runtime/bootstrap\n")
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(buf.Bytes())), nil }, tarball.WithMediaType(types.OCILayer))
	require.NoError(t, err)
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	require.NoError(t, err)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	cf, err := img.ConfigFile()
	require.NoError(t, err)
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = "linux", "arm64"
	cf.Config.Env = []string{"LAMBDA_TASK_ROOT=/var/task", "LAMBDA_RUNTIME_DIR=/var/runtime"}
	cf.Config.WorkingDir = "/var/task"
	cf.Config.Entrypoint = []string{"/lambda-entrypoint.sh"}
	img, err = mutate.ConfigFile(img, cf)
	require.NoError(t, err)
	dir := filepath.Join(t.TempDir(), "provided-base")
	p, err := layout.Write(dir, empty.Index)
	require.NoError(t, err)
	require.NoError(t, p.AppendImage(img, layout.WithAnnotations(map[string]string{"org.opencontainers.image.ref.name": "latest"})))
	return "oci:" + dir + ":latest"
}

// TestMigrateCustomRuntimeBootstrap: a provided.* zip function runs
// bootstrap from its code, else from a layer; the image must make that
// reachable as /var/runtime/bootstrap, which the entrypoint runs.
func TestMigrateCustomRuntimeBootstrap(t *testing.T) {
	bootstrapZip := func(t *testing.T, who string) []byte {
		return testutil.Zip(t, testutil.F("bootstrap", 0o755, "#!/bin/sh\necho bootstrap from "+who+"\n"))
	}
	tests := []struct {
		name       string
		code       func(t *testing.T) []byte
		layer      func(t *testing.T) []byte
		wantTarget string
	}{
		{
			name:       "bootstrap in the code",
			code:       func(t *testing.T) []byte { return bootstrapZip(t, "code") },
			layer:      func(t *testing.T) []byte { return bootstrapZip(t, "layer") },
			wantTarget: "/var/task/bootstrap",
		},
		{
			name:       "bootstrap in a layer",
			code:       func(t *testing.T) []byte { return testutil.Zip(t, testutil.F("handler.sh", 0o644, "echo hi\n")) },
			layer:      func(t *testing.T) []byte { return bootstrapZip(t, "layer") },
			wantTarget: "/opt/bootstrap",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := newMigration(t)
			arn := "arn:aws:lambda:us-east-1:123456789012:layer:runtime:1"
			m.fake.AddLayer(fakelambda.Layer{ARN: arn, Zip: tt.layer(t), CompatibleRuntimes: []string{"provided.al2023"}})
			m.fake.AddFunction(fakelambda.Function{Name: "custom", Runtime: "provided.al2023", Handler: "function.handler",
				Role: "arn:aws:iam::123456789012:role/r", Architectures: []string{"arm64"}, Layers: []string{arn}, Code: tt.code(t)})
			dir := filepath.Join(t.TempDir(), "layout")
			code, stdout, stderr := m.run(t, "migrate", "--function", "custom", "--base", customRuntimeBase(t), "--oci-layout", dir)
			require.Equal(t, 0, code, stderr)
			ref, err := name.NewDigest(strings.TrimSpace(stdout))
			require.NoError(t, err)

			p, err := layout.FromPath(dir)
			require.NoError(t, err)
			img, err := p.Image(mustHash(t, ref.DigestStr()))
			require.NoError(t, err)
			cf, err := img.ConfigFile()
			require.NoError(t, err)
			assert.Equal(t, []string{"function.handler"}, cf.Config.Cmd)

			rc := mutate.Extract(img)
			defer rc.Close()
			tr := tar.NewReader(rc)
			found := false
			for {
				h, err := tr.Next()
				if errors.Is(err, io.EOF) {
					break
				}
				require.NoError(t, err)
				if strings.TrimPrefix(h.Name, "/") == "var/runtime/bootstrap" {
					found = true
					assert.Equal(t, byte(tar.TypeSymlink), h.Typeflag)
					assert.Equal(t, tt.wantTarget, h.Linkname)
				}
			}
			assert.True(t, found, "/var/runtime/bootstrap exists")
		})
	}
}

func mustHash(t *testing.T, s string) v1.Hash {
	t.Helper()
	h, err := v1.NewHash(s)
	require.NoError(t, err)
	return h
}

// BenchmarkMigrate migrates a function with two ~20 MB layers into an OCI
// layout: cold (empty cache: downloads, verification, conversion) and warm
// (same cache: no download, no layer API call, no conversion).
func BenchmarkMigrate(b *testing.B) {
	const layerSize = 20 << 20
	mkLayer := func(seed byte) []byte {
		// Text-like content: compressible, as real layers mostly are.
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		for i := 0; buf.Len() < layerSize; i++ {
			w, err := zw.Create(fmt.Sprintf("python/pkg%d/mod%d.py", seed, i))
			if err != nil {
				b.Fatal(err)
			}
			for j := 0; j < 2000; j++ {
				fmt.Fprintf(w, "VALUE_%d_%d_%d = %d\n", seed, i, j, (i*7919+j*104729)%1000003)
			}
		}
		if err := zw.Close(); err != nil {
			b.Fatal(err)
		}
		return buf.Bytes()
	}
	fake := fakelambda.New(b, fakelambda.Options{})
	l1 := "arn:aws:lambda:us-east-1:123456789012:layer:big-one:1"
	l2 := "arn:aws:lambda:us-east-1:123456789012:layer:big-two:1"
	z1, z2 := mkLayer(1), mkLayer(2)
	fake.AddLayer(fakelambda.Layer{ARN: l1, Zip: z1})
	fake.AddLayer(fakelambda.Layer{ARN: l2, Zip: z2})
	var codeBuf bytes.Buffer
	zw := zip.NewWriter(&codeBuf)
	w, _ := zw.Create("app.py")
	io.WriteString(w, "def handler(e, c):\n    return 1\n")
	zw.Close()
	fake.AddFunction(fakelambda.Function{Name: "big", Runtime: "python3.12", Handler: "app.handler", Role: "r",
		Layers: []string{l1, l2}, Code: codeBuf.Bytes()})
	for k, v := range map[string]string{"AWS_ENDPOINT_URL_LAMBDA": fake.URL, "AWS_ACCESS_KEY_ID": fake.AccessKeyID(),
		"AWS_SECRET_ACCESS_KEY": fake.SecretAccessKey(), "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
		"AWS_CONFIG_FILE": os.DevNull, "AWS_SHARED_CREDENTIALS_FILE": os.DevNull} {
		b.Setenv(k, v)
	}
	migrate := func(cache string) {
		var stderr bytes.Buffer
		a := &app{stdout: io.Discard, stderr: &stderr, getenv: func(k string) string {
			if k == "LAMBDA_OCI_CACHE_DIR" {
				return cache
			}
			return os.Getenv(k)
		}}
		if code := run(context.Background(), []string{"migrate", "--function", "big", "--base", testBase,
			"--oci-layout", filepath.Join(b.TempDir(), "out")}, a); code != 0 {
			b.Fatal(stderr.String())
		}
	}
	b.Run("cold", func(b *testing.B) {
		b.SetBytes(int64(len(z1) + len(z2)))
		for i := 0; i < b.N; i++ {
			migrate(b.TempDir())
		}
	})
	b.Run("warm", func(b *testing.B) {
		cache := b.TempDir()
		migrate(cache)
		before := fake.Downloads()
		b.SetBytes(int64(len(z1) + len(z2)))
		b.ResetTimer()
		for i := 0; i < b.N; i++ {
			migrate(cache)
		}
		b.StopTimer()
		if fake.Downloads() != before {
			b.Fatalf("warm migrations downloaded %d times", fake.Downloads()-before)
		}
	})
}
