// Package faultproxy is a reverse proxy for tests that injects registry
// failures between a client and a real registry: error statuses (503, 429),
// connections reset in the middle of a request body (a blob upload), and
// stalls (no answer). Each fault applies to matching requests a set number of
// times, so a test can show a push riding out N failures, or failing cleanly
// when they never stop.
package faultproxy

import (
	"encoding/json"
	"errors"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"
)

// Kind of fault.
type Kind int

const (
	// Status answers with Fault.Status and a registry error body.
	Status Kind = iota
	// Reset reads part of the request body, then drops the connection
	// with a TCP reset.
	Reset
	// Stall holds the request without answering for Fault.StallFor (or
	// until the client gives up).
	Stall
)

// Fault is one injected failure.
type Fault struct {
	Kind Kind
	// Method and PathContains select requests ("" matches any).
	Method, PathContains string
	// MinBody, when set, selects only requests declaring a body of at
	// least that many bytes (Content-Length): one large blob's upload
	// among small ones.
	MinBody int64
	// Times is how many matching requests fail; 0 means all of them.
	Times int
	// Status for Kind Status (e.g. 503, 429).
	Status int
	// StallFor bounds a stall (default 30 s).
	StallFor time.Duration
	// ResetAfter is how many body bytes to read before a reset (default 1).
	ResetAfter int64
	// Forward, for Kind Reset, passes those ResetAfter bytes on to the
	// registry before cutting both connections, so the registry holds a
	// half-written upload (as when a connection dies mid-blob), instead of
	// never seeing the request.
	Forward bool

	hits int
}

// Request is one request seen, and whether a fault hit it.
type Request struct {
	Method, Path string
	Fault        bool
}

// Proxy is a running fault-injecting proxy.
type Proxy struct {
	// URL is the proxy's base URL; Host its host:port for references.
	URL, Host string

	mu       sync.Mutex
	faults   []*Fault
	requests []Request
}

// Start proxies to upstream (a base URL) through rt until the test ends.
func Start(t testing.TB, upstream string, rt http.RoundTripper) *Proxy {
	t.Helper()
	u, err := url.Parse(upstream)
	if err != nil {
		t.Fatalf("faultproxy: upstream %q: %v", upstream, err)
	}
	rp := httputil.NewSingleHostReverseProxy(u)
	rp.ErrorLog = log.New(io.Discard, "", 0) // client cancellations are expected
	rp.Transport = rt
	dir := rp.Director
	rp.Director = func(r *http.Request) {
		dir(r)
		r.Host = u.Host
	}
	p := &Proxy{}
	// The upstream builds absolute upload URLs from its own address; point
	// them back at the proxy so every request passes through it.
	rp.ModifyResponse = func(resp *http.Response) error {
		loc := resp.Header.Get("Location")
		prefix := u.Scheme + "://" + u.Host
		if strings.HasPrefix(loc, prefix) {
			resp.Header.Set("Location", p.URL+strings.TrimPrefix(loc, prefix))
		}
		return nil
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := p.match(r)
		p.mu.Lock()
		p.requests = append(p.requests, Request{Method: r.Method, Path: r.URL.Path, Fault: f != nil})
		p.mu.Unlock()
		if f == nil {
			rp.ServeHTTP(w, r)
			return
		}
		if f.Kind == Reset && f.Forward {
			f.forwardCut(rp, r)
		}
		f.apply(w, r)
	}))
	t.Cleanup(srv.Close)
	p.URL = srv.URL
	p.Host = strings.TrimPrefix(srv.URL, "http://")
	return p
}

// Add installs a fault; faults are tried in the order added.
func (p *Proxy) Add(f Fault) {
	p.mu.Lock()
	defer p.mu.Unlock()
	ff := f
	p.faults = append(p.faults, &ff)
}

// Clear removes all faults.
func (p *Proxy) Clear() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.faults = nil
}

// Requests returns what the proxy saw.
func (p *Proxy) Requests() []Request {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]Request(nil), p.requests...)
}

// Hits counts the requests a fault was applied to.
func (p *Proxy) Hits() int {
	n := 0
	for _, r := range p.Requests() {
		if r.Fault {
			n++
		}
	}
	return n
}

func (p *Proxy) match(r *http.Request) *Fault {
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, f := range p.faults {
		if f.Method != "" && f.Method != r.Method {
			continue
		}
		if f.PathContains != "" && !strings.Contains(r.URL.Path, f.PathContains) {
			continue
		}
		if f.MinBody > 0 && r.ContentLength < f.MinBody {
			continue
		}
		if f.Times > 0 && f.hits >= f.Times {
			continue
		}
		f.hits++
		return f
	}
	return nil
}

// forwardCut sends the first ResetAfter body bytes upstream, then fails the
// body so the transport aborts the upstream request mid-body. The
// upstream's answer, if any, is dropped: the client only sees the reset.
func (f *Fault) forwardCut(rp *httputil.ReverseProxy, r *http.Request) {
	up := r.Clone(r.Context())
	up.Body = &cutBody{r: r.Body, left: f.resetAfter()}
	up.ContentLength = -1
	up.Header.Del("Content-Length")
	rp.ServeHTTP(httptest.NewRecorder(), up)
}

// cutBody yields left bytes, then an error.
type cutBody struct {
	r    io.ReadCloser
	left int64
}

func (c *cutBody) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, errCut
	}
	if int64(len(p)) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= int64(n)
	return n, err
}

func (c *cutBody) Close() error { return nil }

var errCut = errors.New("faultproxy: connection cut mid-body")

func (f *Fault) resetAfter() int64 {
	if f.ResetAfter <= 0 {
		return 1
	}
	return f.ResetAfter
}

func (f *Fault) apply(w http.ResponseWriter, r *http.Request) {
	switch f.Kind {
	case Status:
		code := map[int]string{http.StatusTooManyRequests: "TOOMANYREQUESTS", http.StatusServiceUnavailable: "UNAVAILABLE"}[f.Status]
		if code == "" {
			code = "UNKNOWN"
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(f.Status)
		_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": "injected by faultproxy"}}})
	case Reset:
		if !f.Forward {
			_, _ = io.CopyN(io.Discard, r.Body, f.resetAfter())
		}
		hj, ok := w.(http.Hijacker)
		if !ok {
			panic("faultproxy: cannot hijack")
		}
		conn, _, err := hj.Hijack()
		if err != nil {
			return
		}
		if tc, ok := conn.(*net.TCPConn); ok {
			_ = tc.SetLinger(0) // close with RST, not FIN
		}
		_ = conn.Close()
	case Stall:
		d := f.StallFor
		if d <= 0 {
			d = 30 * time.Second
		}
		// Take the body, then never answer: the server only notices the
		// client hanging up once the body has been read.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case <-time.After(d):
		case <-r.Context().Done():
		}
		// Hang up rather than answer: the client must have given up by now.
		if hj, ok := w.(http.Hijacker); ok {
			if conn, _, err := hj.Hijack(); err == nil {
				_ = conn.Close()
			}
		}
	}
}
