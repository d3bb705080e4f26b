package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// retryStatusCodes are retried at the HTTP level (the pusher's upload
// loop retries transport.Error.Temporary(), which covers the same codes).
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// remoteOptions builds the go-containerregistry options shared by fetches
// and pushes: keychain, transport, jobs and retry policy.
func remoteOptions(ctx context.Context, o Options, rt http.RoundTripper) ([]remote.Option, error) {
	kc := o.Keychain
	if kc == nil {
		kc = newKeychain(o)
	}
	if rt == nil {
		rt = baseTransport(o)
	}
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(kc),
		remote.WithTransport(rt),
		remote.WithJobs(o.jobs()),
		remote.WithRetryBackoff(backoff(o)),
		remote.WithRetryPredicate(retryable(ctx, o)),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}, nil
}

// backoff doubles from RetryBaseDelay with 50% jitter, so parallel uploads
// that failed together do not retry in lockstep.
func backoff(o Options) remote.Backoff {
	d := o.RetryBaseDelay
	if d <= 0 {
		d = time.Second
	}
	return remote.Backoff{Duration: d, Factor: 2, Jitter: 0.5, Steps: o.retries() + 1}
}

// retryable says which failures are worth another attempt: registry
// 5xx/429 and network trouble. Auth, not-found and invalid requests fail at
// once; so does anything after ctx is cancelled.
func retryable(ctx context.Context, o Options) func(error) bool {
	return func(err error) bool {
		if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return false
		}
		ok := isRetryable(err)
		if ok {
			o.logf("retrying after: %v", err)
		}
		return ok
	}
}

func isRetryable(err error) bool {
	// A registry error is retried by status only: go-containerregistry
	// also calls 400 UNKNOWN / BLOB_UPLOAD_INVALID temporary, but a
	// request the registry calls bad will not get better by repeating it.
	var terr *transport.Error
	if errors.As(err, &terr) {
		return slices.Contains(retryStatusCodes, terr.StatusCode)
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) || errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return true
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return true
	}
	// net/http reports a peer that hung up mid-request without a typed error.
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "server closed idle connection")
}

// baseTransport is remote.DefaultTransport with a dialer whose connections
// fail after StallTimeout without progress in either direction, so a
// stalled registry becomes a retryable timeout rather than a hang.
func baseTransport(o Options) http.RoundTripper {
	if o.Transport != nil {
		return o.Transport
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	stall := o.StallTimeout
	if stall <= 0 {
		stall = DefaultStallTimeout
	}
	d := &net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, idle: stall}, nil
	}
	if o.RootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	}
	return t
}

// stallConn pushes both deadlines forward on every read or write: a long
// upload keeps the pending response read alive, while a peer that stops
// reading or answering trips the deadline.
type stallConn struct {
	net.Conn
	idle time.Duration
}

func (c *stallConn) Read(b []byte) (int, error) {
	_ = c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Read(b)
}

func (c *stallConn) Write(b []byte) (int, error) {
	_ = c.Conn.SetDeadline(time.Now().Add(c.idle))
	return c.Conn.Write(b)
}

// Blob statuses reported in PushResult.Layers.
const (
	StatusPushed  = "pushed"
	StatusExists  = "exists"
	StatusMounted = "mounted"
)

// blobObserver records, from the requests the pusher makes, what happened
// to each blob: found by the existence check, mounted, or uploaded. The
// pusher does not report this itself.
type blobObserver struct {
	inner http.RoundTripper
	mu    sync.Mutex
	seen  map[string]string // "repo@digest" -> status
}

func newBlobObserver(inner http.RoundTripper) *blobObserver {
	return &blobObserver{inner: inner, seen: map[string]string{}}
}

func (b *blobObserver) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := b.inner.RoundTrip(req)
	if err != nil {
		return resp, err
	}
	repo, digest, status := classifyBlobRequest(req, resp.StatusCode)
	if status != "" {
		b.mu.Lock()
		b.seen[repo+"@"+digest] = status
		b.mu.Unlock()
	}
	return resp, err
}

func (b *blobObserver) status(repo, digest string) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.seen[repo+"@"+digest]
}

// classifyBlobRequest reads /v2/<repo>/blobs/<digest> (HEAD 200),
// /v2/<repo>/blobs/uploads/?mount=<digest> (POST 201) and
// /v2/<repo>/blobs/uploads/<id>?digest=<digest> (PUT 201).
func classifyBlobRequest(req *http.Request, code int) (repo, digest, status string) {
	p := req.URL.Path
	if !strings.HasPrefix(p, "/v2/") {
		return "", "", ""
	}
	p = strings.TrimPrefix(p, "/v2/")
	i := strings.Index(p, "/blobs/")
	if i < 0 {
		return "", "", ""
	}
	repo, rest := p[:i], p[i+len("/blobs/"):]
	q := req.URL.Query()
	switch {
	case req.Method == http.MethodHead && !strings.HasPrefix(rest, "uploads") && code == http.StatusOK:
		return repo, rest, StatusExists
	case req.Method == http.MethodPost && q.Get("mount") != "" && code == http.StatusCreated:
		return repo, q.Get("mount"), StatusMounted
	case req.Method == http.MethodPut && q.Get("digest") != "" && code == http.StatusCreated:
		d, _ := url.QueryUnescape(q.Get("digest"))
		return repo, d, StatusPushed
	}
	return "", "", ""
}

var _ authn.Keychain = (*keychain)(nil)
