package registry

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// retryLog counts the "retrying" lines a push logs.
type retryLog struct {
	mu    sync.Mutex
	lines []string
}

func (l *retryLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, sprintf(format, args...))
}

func (l *retryLog) retries() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, s := range l.lines {
		if strings.HasPrefix(s, "retrying") {
			n++
		}
	}
	return n
}

// requestCounter serves a real registry and counts requests by
// "METHOD kind" (kind: ping, upload, blob, manifest), failing those that
// fail(method, path) says to.
type requestCounter struct {
	next http.Handler
	fail func(r *http.Request) int // status to answer with, 0: serve
	mu   sync.Mutex
	n    map[string]int
}

func (c *requestCounter) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	kind := "other"
	switch {
	case r.URL.Path == "/v2/":
		kind = "ping"
	case strings.Contains(r.URL.Path, "/blobs/uploads/"):
		kind = "upload"
	case strings.Contains(r.URL.Path, "/blobs/"):
		kind = "blob"
	case strings.Contains(r.URL.Path, "/manifests/"):
		kind = "manifest"
	}
	c.mu.Lock()
	c.n[r.Method+" "+kind]++
	c.mu.Unlock()
	if c.fail != nil {
		if code := c.fail(r); code != 0 {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(code)
			_, _ = w.Write([]byte(`{"errors":[{"code":"UNKNOWN","message":"injected"}]}`))
			return
		}
	}
	c.next.ServeHTTP(w, r)
}

func (c *requestCounter) count(key string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[key]
}

func startCounter(t *testing.T, fail func(r *http.Request) int) (*requestCounter, string) {
	c := &requestCounter{next: gcrregistry.New(gcrregistry.Logger(discardLog())), fail: fail, n: map[string]int{}}
	srv := httptest.NewServer(c)
	t.Cleanup(srv.Close)
	return c, strings.TrimPrefix(srv.URL, "http://")
}

// pushWithin runs Push and fails the test if it has not returned within
// limit: generous bounds against waits of minutes, not timing assertions.
func pushWithin(t *testing.T, limit time.Duration, ctx context.Context, tags []string, opts Options) error {
	t.Helper()
	img, err := random.Image(2048, 3)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() {
		_, err := Push(ctx, img, tags, opts)
		done <- err
	}()
	select {
	case err := <-done:
		return err
	case <-time.After(limit):
		t.Fatalf("Push still running after %s", limit)
		return nil
	}
}

// Issue 16 defect 6: the retry count is honoured exactly, and a failure
// that is not retried is not logged as a retry ("none" used to log
// "retrying after" on every failed request).
func TestPushRetriesExactly(t *testing.T) {
	tests := []struct {
		retries, attempts int
	}{
		{retries: -1, attempts: 1},
		{retries: 1, attempts: 2},
		{retries: 3, attempts: 4},
		{retries: 0, attempts: DefaultRetries + 1},
	}
	for _, tt := range tests {
		t.Run(sprintf("retries=%d", tt.retries), func(t *testing.T) {
			c, host := startCounter(t, func(r *http.Request) int {
				if r.Method == http.MethodPatch {
					return http.StatusServiceUnavailable
				}
				return 0
			})
			var log retryLog
			err := pushWithin(t, 30*time.Second, context.Background(), []string{host + "/fn:v1"},
				Options{Jobs: 1, Retries: tt.retries, RetryBaseDelay: time.Millisecond, Logf: log.logf})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "503")
			assert.Contains(t, err.Error(), host+"/fn")
			assert.Equal(t, tt.attempts, c.count("PATCH upload"), "attempts == retries+1, and no other blob started")
			assert.Equal(t, tt.attempts-1, log.retries(), "one log line per retry actually made: %q", log.lines)
			assert.Zero(t, c.count("PUT manifest"))
		})
	}
}

// Issue 16 defect 6: the first permanent failure cancels the upload
// group. Here blob A gets a 503 and waits to retry (a ten-minute backoff)
// while blob B gets a 400, which is not retried: the push must fail at
// once, without A's retry and without the queued blobs ever starting.
func TestPushFirstPermanentFailureStopsTheGroup(t *testing.T) {
	var mu sync.Mutex
	patches := 0
	first := make(chan struct{})
	c, host := startCounter(t, func(r *http.Request) int {
		if r.Method != http.MethodPatch {
			return 0
		}
		mu.Lock()
		patches++
		n := patches
		mu.Unlock()
		if n == 1 {
			defer close(first)
			return http.StatusServiceUnavailable
		}
		<-first // the 503 is on its way before the 400 is sent
		return http.StatusBadRequest
	})
	var log retryLog
	err := pushWithin(t, 30*time.Second, context.Background(), []string{host + "/fn:v1"},
		Options{Jobs: 2, Retries: 3, RetryBaseDelay: 10 * time.Minute, Logf: log.logf})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "400")
	assert.Equal(t, 2, c.count("PATCH upload"), "no retry and no queued blob after the permanent failure")
	assert.Equal(t, 2, c.count("POST upload"), "only the two blobs in flight started (3 layers + config, 2 jobs)")
	assert.Zero(t, c.count("PUT manifest"))
}

// Issue 16 defect 6: a push to an address where nothing listens fails
// with the default options at once (it used to retry for 80 s), naming
// the host and the reason.
func TestPushDeadAddressFailsFast(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	host := l.Addr().String()
	require.NoError(t, l.Close())

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var log retryLog
	err = pushWithin(t, time.Minute, ctx, []string{host + "/fn:v1"}, Options{Logf: log.logf})
	require.Error(t, err)
	assert.False(t, errors.Is(err, context.DeadlineExceeded), "failed by itself, not by the test's deadline: %v", err)
	assert.Contains(t, err.Error(), host)
	assert.Contains(t, err.Error(), "connection refused")
	assert.Zero(t, log.retries(), "%q", log.lines)
}

// silentServer accepts requests and never answers them, counting pings.
func silentServer(t *testing.T) (*atomic.Int32, string) {
	var pings atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v2/" {
			pings.Add(1)
		}
		<-r.Context().Done()
	}))
	t.Cleanup(srv.Close)
	return &pings, strings.TrimPrefix(srv.URL, "http://")
}

// Issue 16 defect 6: a registry that accepts and never answers is given
// up on after the stall timeout, retries+1 times in all (it used to be
// retried by go-containerregistry's transport and again per upload).
func TestPushSilentServerAttempts(t *testing.T) {
	for _, retries := range []int{-1, 2} {
		t.Run(sprintf("retries=%d", retries), func(t *testing.T) {
			pings, host := silentServer(t)
			err := pushWithin(t, 30*time.Second, context.Background(), []string{host + "/fn:v1"},
				Options{Jobs: 1, Retries: retries, RetryBaseDelay: time.Millisecond, StallTimeout: 100 * time.Millisecond})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "timeout")
			assert.Equal(t, int32(max(retries, 0)+1), pings.Load())
		})
	}
}

// The response-header bound applies even when the connection's stall
// timeout is long: the silent registry is given up on after it.
func TestPushResponseTimeout(t *testing.T) {
	for _, retries := range []int{-1, 1} {
		t.Run(sprintf("retries=%d", retries), func(t *testing.T) {
			pings, host := silentServer(t)
			err := pushWithin(t, 30*time.Second, context.Background(), []string{host + "/fn:v1"},
				Options{Jobs: 1, Retries: retries, RetryBaseDelay: time.Millisecond, ResponseTimeout: 100 * time.Millisecond, StallTimeout: time.Hour})
			require.Error(t, err)
			assert.Contains(t, err.Error(), "timeout awaiting response headers")
			assert.Equal(t, int32(max(retries, 0)+1), pings.Load())
		})
	}
}
