package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/faultproxy"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
	"github.com/lambda-oci/lambda-oci/registry"
)

func TestDescribeError(t *testing.T) {
	tests := []struct {
		kind error
		hint string
	}{
		{registry.ErrRepositoryNotFound, "--create-repository"},
		{registry.ErrTagImmutable, "immutable tags"},
		{registry.ErrNoCredentials, "configure AWS credentials"},
		{registry.ErrExpiredCredentials, "session has expired"},
		{registry.ErrAccessDenied, "grant the IAM action"},
		{registry.ErrUnauthorized, "credentials were refused"},
		{registry.ErrBaseNotFound, "oci:PATH[:TAG]"},
	}
	for _, tt := range tests {
		t.Run(tt.kind.Error(), func(t *testing.T) {
			err := fmt.Errorf("base x: %w", &registry.Error{Kind: tt.kind, Op: "pushing to", Ref: "host/repo",
				Err: errors.New("registry says no")})
			got := describeError(err)
			lines := strings.Split(got, "\n")
			require.Len(t, lines, 2, got)
			assert.Equal(t, err.Error(), lines[0], "the first line keeps the whole error")
			assert.Contains(t, lines[0], "registry says no")
			assert.True(t, strings.HasPrefix(lines[1], "  hint: "))
			assert.Contains(t, lines[1], tt.hint)
		})
	}
	assert.Equal(t, "plain failure", describeError(errors.New("plain failure")), "untyped errors pass through")
}

func TestPushFlagsOptions(t *testing.T) {
	tests := []struct {
		args []string
		env  map[string]string
		want registry.Options
	}{
		{args: nil, want: registry.Options{Retries: registry.DefaultRetries}},
		{args: []string{"--retries", "0"}, want: registry.Options{Retries: -1}},
		{args: []string{"--jobs", "3", "--create-repository", "--registry-auth", "ecr", "--region", "eu-west-1", "--quiet"},
			want: registry.Options{Jobs: 3, Retries: registry.DefaultRetries, CreateRepository: true, RegistryAuth: "ecr", Region: "eu-west-1", Quiet: true}},
		{env: map[string]string{"AWS_REGION": "ap-south-1"}, want: registry.Options{Retries: registry.DefaultRetries, Region: "ap-south-1"}},
		{env: map[string]string{"AWS_DEFAULT_REGION": "sa-east-1"}, want: registry.Options{Retries: registry.DefaultRetries, Region: "sa-east-1"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var f pushFlags
			fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
			f.bind(fs)
			require.NoError(t, fs.Parse(tt.args))
			require.NoError(t, f.validate())
			var stderr bytes.Buffer
			got := f.options(&app{stderr: &stderr, getenv: func(k string) string { return tt.env[k] }})
			require.NotNil(t, got.Progress, "progress is drawn on stderr")
			got.Progress(registry.ProgressEvent{Size: 10, Status: registry.ProgressPushed})
			assert.Contains(t, stderr.String(), " pushed 10 B")
			assert.Nil(t, got.Logf, "silent unless --verbose")
			got.Progress = nil
			assert.Equal(t, tt.want, got)
		})
	}
	var f pushFlags
	fs := pflag.NewFlagSet("x", pflag.ContinueOnError)
	f.bind(fs)
	require.NoError(t, fs.Parse([]string{"--registry-auth", "gcr"}))
	assert.ErrorContains(t, f.validate(), `--registry-auth "gcr"`)
}

// --retries reaches the pusher: a registry failing twice is ridden out with
// the default, and an endless outage fails cleanly with --retries 1.
func TestBuildPushRetriesThroughFaults(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	p := faultproxy.Start(t, reg.URL(), http.DefaultTransport)

	p.Add(faultproxy.Fault{Kind: faultproxy.Status, Status: 503, Method: "PATCH", Times: 2})
	code, stdout, stderr := runCmd(t, cacheEnv(t), demoArgs("--tag", p.Host+"/fn:v1", "--verbose")...)
	require.Equal(t, 0, code, stderr)
	assert.Contains(t, stdout, p.Host+"/fn@sha256:")
	assert.Equal(t, 2, p.Hits())
	assert.Contains(t, stderr, "retrying after")

	p.Clear()
	p.Add(faultproxy.Fault{Kind: faultproxy.Status, Status: 503, Method: "PATCH"})
	code, stdout, stderr = runCmd(t, cacheEnv(t), demoArgs("--tag", p.Host+"/other:v1", "--retries", "1", "--quiet")...)
	assert.Equal(t, 1, code)
	assert.Empty(t, stdout)
	assert.Contains(t, stderr, "HTTP 503")
	assert.Contains(t, stderr, p.Host+"/other")
	assert.NotContains(t, stderr, "pushed", "--quiet: no progress lines")
}
