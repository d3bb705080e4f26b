package registry

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestIsRetryable(t *testing.T) {
	tests := []struct {
		err  error
		want bool
	}{
		{&transport.Error{StatusCode: 503}, true},
		{&transport.Error{StatusCode: 502}, true},
		{&transport.Error{StatusCode: 500}, true},
		{&transport.Error{StatusCode: 429}, true},
		{&transport.Error{StatusCode: 408}, true},
		{&transport.Error{StatusCode: 400, Errors: []transport.Diagnostic{{Code: transport.UnknownErrorCode}}}, false},
		{&transport.Error{StatusCode: 401}, false},
		{&transport.Error{StatusCode: 403}, false},
		{&transport.Error{StatusCode: 404, Errors: []transport.Diagnostic{{Code: transport.NameUnknownErrorCode}}}, false},
		{fmt.Errorf("patch: %w", syscall.ECONNRESET), true},
		{fmt.Errorf("patch: %w", io.ErrUnexpectedEOF), true},
		{&net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true},
		{&net.OpError{Op: "dial", Err: os.NewSyscallError("connect", syscall.ECONNREFUSED)}, false},
		{&net.OpError{Op: "dial", Err: os.ErrDeadlineExceeded}, false},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "no such host", Name: "reg.invalid", IsNotFound: true}}, false},
		{&net.OpError{Op: "dial", Err: &net.DNSError{Err: "server misbehaving", Name: "reg.example", IsTemporary: true}}, true},
		{fmt.Errorf("head: %w", context.Canceled), false},
		{errors.New("tls: failed to verify certificate"), false},
		{errors.New("manifest invalid"), false},
		{errors.New(`Get "http://h/v2/": net/http: timeout awaiting response headers`), true},
	}
	for _, tt := range tests {
		t.Run(tt.err.Error(), func(t *testing.T) {
			assert.Equal(t, tt.want, isRetryable(tt.err))
		})
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	assert.False(t, retryable(ctx)(&transport.Error{StatusCode: 503}), "never after cancellation")
}

// uploadWatcher wraps a registry handler, recording the order of blob
// commits and manifest puts and the most uploads in flight at once.
type uploadWatcher struct {
	next     http.Handler
	inflight atomic.Int32
	max      atomic.Int32
	mu       sync.Mutex
	events   []string
	hold     time.Duration
	onPatch  func()
}

func (u *uploadWatcher) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	isUpload := strings.Contains(r.URL.Path, "/blobs/uploads/") && (r.Method == http.MethodPatch || r.Method == http.MethodPut)
	if isUpload {
		n := u.inflight.Add(1)
		for {
			m := u.max.Load()
			if n <= m || u.max.CompareAndSwap(m, n) {
				break
			}
		}
		if r.Method == http.MethodPatch && u.onPatch != nil {
			u.onPatch()
		}
		// Hold uploads briefly so parallel ones overlap: this makes the
		// bound observable, it is not a timing assertion.
		time.Sleep(u.hold)
		defer u.inflight.Add(-1)
	}
	u.next.ServeHTTP(w, r)
	switch {
	case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/blobs/uploads/"):
		u.record("blob")
	case r.Method == http.MethodPut && strings.Contains(r.URL.Path, "/manifests/"):
		u.record("manifest")
	}
}

func (u *uploadWatcher) record(e string) {
	u.mu.Lock()
	defer u.mu.Unlock()
	u.events = append(u.events, e)
}

func TestPushBoundsJobsAndPutsManifestLast(t *testing.T) {
	for _, jobs := range []int{1, 3} {
		t.Run(fmt.Sprint("jobs=", jobs), func(t *testing.T) {
			u := &uploadWatcher{next: gcrregistry.New(gcrregistry.Logger(discardLog())), hold: 20 * time.Millisecond}
			srv := httptest.NewServer(u)
			t.Cleanup(srv.Close)
			host := strings.TrimPrefix(srv.URL, "http://")
			img, err := random.Image(4096, 8)
			require.NoError(t, err)
			_, err = Push(context.Background(), img, []string{host + "/fn:v1", host + "/fn:v2"}, Options{Jobs: jobs})
			require.NoError(t, err)
			assert.LessOrEqual(t, int(u.max.Load()), jobs, "never more than --jobs uploads at once")
			assert.GreaterOrEqual(t, int(u.max.Load()), 1)
			u.mu.Lock()
			defer u.mu.Unlock()
			require.Len(t, u.events, 9+3, "8 layers + config, then the manifest by digest and two tags")
			for i, e := range u.events {
				if i < 9 {
					assert.Equal(t, "blob", e, "every blob is committed before any manifest")
				} else {
					assert.Equal(t, "manifest", e)
				}
			}
		})
	}
}

func TestPushCancelledLeavesNoManifest(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	u := &uploadWatcher{next: gcrregistry.New(gcrregistry.Logger(discardLog())), onPatch: cancel}
	srv := httptest.NewServer(u)
	t.Cleanup(srv.Close)
	host := strings.TrimPrefix(srv.URL, "http://")
	img, err := random.Image(4096, 3)
	require.NoError(t, err)
	_, err = Push(ctx, img, []string{host + "/fn:v1"}, Options{Jobs: 1})
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	d, _ := img.Digest()
	_, err = remote.Head(must(name.ParseReference(host + "/fn@" + d.String())))
	assert.Error(t, err, "no manifest after a cancelled push")
	u.mu.Lock()
	assert.NotContains(t, u.events, "manifest")
	u.mu.Unlock()
}
