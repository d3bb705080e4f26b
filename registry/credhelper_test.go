package registry

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Issue 16 defect 10c: a failing docker credential helper's output (which
// may be the secret it meant to hand over) is never echoed; the error says
// which helper failed for which registry, and how.
func TestCredentialHelperOutputNeverEchoed(t *testing.T) {
	const secret = "s3cr3t-T0KEN-from-helper"
	host := startInProcess(t)

	bin := t.TempDir()
	script := "#!/bin/sh\nread server\necho '{\"ServerURL\":\"'$server'\",\"Username\":\"u\",\"Secret\":\"" + secret + "\"'\nexit 1\n"
	require.NoError(t, os.WriteFile(filepath.Join(bin, "docker-credential-lotest"), []byte(script), 0o755))
	cfgDir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(cfgDir, "config.json"),
		[]byte(`{"credHelpers":{"`+host+`":"lotest"}}`), 0o600))
	t.Setenv("HOME", t.TempDir()) // no ~/.docker/config.json: DOCKER_CONFIG is read
	t.Setenv("DOCKER_CONFIG", cfgDir)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))

	var mu sync.Mutex
	var logs strings.Builder
	_, err := Push(context.Background(), testImage(t, 1), []string{host + "/fn:v1"}, Options{
		Retries: -1,
		Logf: func(f string, a ...any) {
			mu.Lock()
			defer mu.Unlock()
			logs.WriteString(sprintf(f, a...) + "\n")
		},
	})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrCredentialHelper)
	assert.Contains(t, err.Error(), "docker-credential-lotest")
	assert.Contains(t, err.Error(), "for registry "+host)
	assert.Contains(t, err.Error(), "exit status 1")
	assert.NotContains(t, err.Error(), secret)
	assert.NotContains(t, logs.String(), secret)
}

func TestCredHelperError(t *testing.T) {
	t.Setenv("DOCKER_CONFIG", t.TempDir()) // no config: a generic name
	plain := os.ErrPermission
	assert.Equal(t, plain, credHelperError("h", plain), "other errors pass through")
	err := credHelperError("reg.example", errorString("error getting credentials - err: exit status 3, out: `hunter2`"))
	assert.ErrorIs(t, err, ErrCredentialHelper)
	assert.Equal(t, "docker credential helper failed: the configured helper for registry reg.example: exit status 3 (its output is not shown: it may hold a secret)", err.Error())
}

type errorString string

func (e errorString) Error() string { return string(e) }
