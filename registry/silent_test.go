package registry

import (
	"context"
	"io"
	"net/http"
	"os"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// captureStdio runs f with os.Stdout and os.Stderr pointing at pipes and
// returns what was written to them. Not for parallel tests.
func captureStdio(t *testing.T, f func()) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	oldOut, oldErr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	var got []byte
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		got, _ = io.ReadAll(r)
	}()
	defer func() {
		os.Stdout, os.Stderr = oldOut, oldErr
	}()
	f()
	os.Stdout, os.Stderr = oldOut, oldErr
	require.NoError(t, w.Close())
	wg.Wait()
	require.NoError(t, r.Close())
	return string(got)
}

// The library is silent: with zero Options (no Logf, no Progress) a push
// that retries, one that fails and a layout fetch write nothing to stdout
// or stderr; go-containerregistry's loggers stay at their discarding
// defaults too.
func TestZeroOptionsWriteNothing(t *testing.T) {
	var once sync.Once
	_, host := startCounter(t, func(r *http.Request) int {
		code := 0
		if r.Method == http.MethodPatch {
			once.Do(func() { code = http.StatusServiceUnavailable })
		}
		return code
	})
	_, failHost := startCounter(t, func(r *http.Request) int {
		if r.Method == http.MethodPatch {
			return http.StatusBadRequest
		}
		return 0
	})
	img := testImage(t, 2)
	dir := writeTestLayout(t, img)

	var pushErr, failErr, fetchErr error
	out := captureStdio(t, func() {
		_, pushErr = Push(context.Background(), img, []string{host + "/fn:v1"}, Options{})
		_, failErr = Push(context.Background(), img, []string{failHost + "/fn:v1"}, Options{})
		var b *Base
		b, fetchErr = FetchBase(context.Background(), "oci:"+dir+":base", Options{})
		if fetchErr == nil {
			_, fetchErr = b.Image.ConfigFile()
		}
	})
	require.NoError(t, pushErr, "the one 503 is retried")
	require.Error(t, failErr)
	require.NoError(t, fetchErr)
	assert.Empty(t, out)
}
