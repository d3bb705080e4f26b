package faultproxy

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// upstream records how many body bytes each request delivered and whether
// the body ended cleanly.
type upstream struct {
	mu   sync.Mutex
	got  []int64
	errs []error
	// done receives once per finished request: the handler may still be
	// draining a cut-off body after the client has seen its error.
	done chan struct{}
}

func startUpstream(t *testing.T) (*upstream, string) {
	u := &upstream{done: make(chan struct{}, 16)}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n, err := io.Copy(io.Discard, r.Body)
		u.mu.Lock()
		u.got = append(u.got, n)
		u.errs = append(u.errs, err)
		u.mu.Unlock()
		u.done <- struct{}{}
		w.WriteHeader(http.StatusAccepted)
	}))
	t.Cleanup(srv.Close)
	return u, srv.URL
}

// wait blocks until n requests have finished upstream (bounded, so a broken
// proxy fails the test instead of hanging it).
func (u *upstream) wait(t *testing.T, n int) {
	t.Helper()
	for range n {
		select {
		case <-u.done:
		case <-time.After(10 * time.Second):
			t.Fatalf("upstream saw fewer than %d requests", n)
		}
	}
}

func (u *upstream) seen() ([]int64, []error) {
	u.mu.Lock()
	defer u.mu.Unlock()
	return append([]int64(nil), u.got...), append([]error(nil), u.errs...)
}

func patch(t *testing.T, url string, body []byte) (*http.Response, error) {
	req, err := http.NewRequest(http.MethodPatch, url+"/v2/r/blobs/uploads/x", bytes.NewReader(body))
	require.NoError(t, err)
	// A fresh transport: a reset connection must not be reused.
	c := &http.Client{Transport: &http.Transport{}}
	resp, err := c.Do(req)
	if err == nil {
		resp.Body.Close()
	}
	return resp, err
}

func TestFaults(t *testing.T) {
	body := bytes.Repeat([]byte("x"), 256<<10)
	for _, tc := range []struct {
		name       string
		fault      Fault
		wantStatus int     // 0: the client sees a connection error
		wantUp     []int64 // body bytes the upstream saw, per request
	}{
		{name: "status", fault: Fault{Kind: Status, Status: 503, Method: "PATCH", Times: 1}, wantStatus: 503},
		{name: "other method passes", fault: Fault{Kind: Status, Status: 503, Method: "PUT"}, wantStatus: 202, wantUp: []int64{256 << 10}},
		{name: "smaller body passes", fault: Fault{Kind: Status, Status: 503, MinBody: 256<<10 + 1}, wantStatus: 202, wantUp: []int64{256 << 10}},
		{name: "large enough body", fault: Fault{Kind: Status, Status: 503, Method: "PATCH", MinBody: 256 << 10, Times: 1}, wantStatus: 503},
		{name: "reset, upstream never sees it", fault: Fault{Kind: Reset, Method: "PATCH", ResetAfter: 4096, Times: 1}},
		{name: "reset forwarding part", fault: Fault{Kind: Reset, Method: "PATCH", ResetAfter: 64 << 10, Forward: true, Times: 1}, wantUp: []int64{64 << 10}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			up, url := startUpstream(t)
			p := Start(t, url, http.DefaultTransport)
			p.Add(tc.fault)
			resp, err := patch(t, p.URL, body)
			if tc.wantStatus == 0 {
				require.Error(t, err)
			} else {
				require.NoError(t, err)
				assert.Equal(t, tc.wantStatus, resp.StatusCode)
			}
			up.wait(t, len(tc.wantUp))
			got, errs := up.seen()
			assert.Equal(t, tc.wantUp, got)
			if tc.fault.Forward {
				require.Len(t, errs, 1)
				assert.Error(t, errs[0], "the upstream sees the body cut short")
			}
			// Times: 1 — the next request goes through whole.
			if tc.fault.Times == 1 {
				resp, err := patch(t, p.URL, body)
				require.NoError(t, err)
				assert.Equal(t, http.StatusAccepted, resp.StatusCode)
			}
			assert.Equal(t, map[bool]int{true: 1}[tc.wantStatus != 202], p.Hits())
		})
	}
}
