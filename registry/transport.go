package registry

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/remote/transport"
)

// retryStatusCodes are the registry answers worth another attempt.
var retryStatusCodes = []int{
	http.StatusRequestTimeout, http.StatusTooManyRequests,
	http.StatusInternalServerError, http.StatusBadGateway,
	http.StatusServiceUnavailable, http.StatusGatewayTimeout,
}

// remoteOptions builds the go-containerregistry options for fetches: its
// transport retries each failed request (GETs and HEADs, which can be
// replayed) Retries times. Pushes use pushOptions instead.
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
		remote.WithRetryBackoff(remote.Backoff{Duration: o.retryBaseDelay(), Factor: 2, Jitter: 0.5, Steps: o.retries() + 1, Cap: maxRetryDelay}),
		remote.WithRetryPredicate(retryable(ctx)),
		remote.WithRetryStatusCodes(retryStatusCodes...),
	}, nil
}

// pushOptions turns go-containerregistry's own retries off: its backoff
// sleeps cannot be interrupted, it runs per request and again per upload
// (attempts multiply), and its predicate cannot tell a last attempt from
// one that will be retried. Push retries whole uploads itself (withRetries).
func pushOptions(ctx context.Context, o Options, rt http.RoundTripper) []remote.Option {
	return []remote.Option{
		remote.WithContext(ctx),
		remote.WithAuthFromKeychain(o.Keychain),
		remote.WithTransport(rt),
		remote.WithJobs(o.jobs()),
		remote.WithRetryBackoff(remote.Backoff{Steps: 1}),
		remote.WithRetryPredicate(func(error) bool { return false }),
		remote.WithRetryStatusCodes(),
	}
}

// maxRetryDelay caps the backoff between attempts.
const maxRetryDelay = 30 * time.Second

func (o Options) retryBaseDelay() time.Duration {
	if o.RetryBaseDelay > 0 {
		return o.RetryBaseDelay
	}
	return time.Second
}

// retryDelay is the wait before retry n (0-based): the base delay doubled
// n times, capped, plus up to 50% jitter so parallel uploads that failed
// together do not retry in lockstep.
func (o Options) retryDelay(n int) time.Duration {
	d := o.retryBaseDelay()
	for i := 0; i < n && d < maxRetryDelay; i++ {
		d *= 2
	}
	d = min(d, maxRetryDelay)
	return d + time.Duration(rand.Int64N(int64(d)/2+1))
}

// withRetries runs op, then retries it while it fails retryably, exactly
// o.retries() times at most. ctx is the upload group's: once another blob
// has failed for good, no attempt starts and no backoff runs to its end.
// Retries are logged and reported through onRetry (for progress); a
// failure that is not retried is not announced as one.
func withRetries(ctx context.Context, o Options, what string, onRetry func(err error, attempt, attempts int, delay time.Duration), op func() error) error {
	for n := 0; ; n++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		err := op()
		if err == nil || n >= o.retries() || ctx.Err() != nil || !isRetryable(err) {
			return err
		}
		d := o.retryDelay(n)
		o.logf("retrying after: %v (%s, retry %d of %d, in %s)", err, what, n+1, o.retries(), d.Round(time.Millisecond))
		if onRetry != nil {
			onRetry(err, n+1, o.retries(), d)
		}
		t := time.NewTimer(d)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("%w (while waiting to retry after: %v)", ctx.Err(), err)
		case <-t.C:
		}
	}
}

// retryable is the fetch transport's predicate. It does not log: it is
// also asked about the last attempt, which is not retried.
func retryable(ctx context.Context) func(error) bool {
	return func(err error) bool {
		if err == nil || ctx.Err() != nil || errors.Is(err, context.Canceled) {
			return false
		}
		return isRetryable(err)
	}
}

func isRetryable(err error) bool {
	// Not context.DeadlineExceeded: net/http's own timeouts match it
	// (errors.Is), and they are worth a retry. Whether the caller's
	// context has ended is for the caller to check.
	if errors.Is(err, context.Canceled) {
		return false
	}
	// A registry error is retried by status only: go-containerregistry
	// also calls 400 UNKNOWN / BLOB_UPLOAD_INVALID temporary, but a
	// request the registry calls bad will not get better by repeating it.
	var terr *transport.Error
	if errors.As(err, &terr) {
		return slices.Contains(retryStatusCodes, terr.StatusCode)
	}
	// A connection that cannot be opened (refused, no route, unknown
	// host, connect timeout) is not retried: within a push's time frame
	// nothing will start listening there, and a mistyped host should fail
	// at once, not after a minute of backoff. Only a DNS failure the
	// resolver calls temporary is worth another try.
	var oe *net.OpError
	if errors.As(err, &oe) && oe.Op == "dial" {
		var dns *net.DNSError
		return errors.As(err, &dns) && (dns.IsTemporary || dns.IsTimeout)
	}
	if errors.Is(err, syscall.ECONNRESET) || errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) || errors.Is(err, net.ErrClosed) {
		return true
	}
	// errors.As stops at the first net.Error, which for a ping is the
	// https attempt's even when the http one timed out (the two come back
	// together); a deadline is also found with errors.Is, and net/http's
	// own timeouts by their message.
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, os.ErrDeadlineExceeded) {
		return true
	}
	var tmp interface{ Temporary() bool }
	if errors.As(err, &tmp) && tmp.Temporary() {
		return true
	}
	// net/http reports a peer that hung up mid-request without a typed error.
	s := err.Error()
	return strings.Contains(s, "connection reset") || strings.Contains(s, "broken pipe") ||
		strings.Contains(s, "server closed idle connection") ||
		strings.Contains(s, "timeout awaiting response headers") || strings.Contains(s, "TLS handshake timeout")
}

// baseTransport is remote.DefaultTransport with every wait bounded: the
// connect and TLS handshake by ConnectTimeout, response headers by
// ResponseTimeout, and any connection that makes no progress in either
// direction by StallTimeout, which turns a stalled registry into a
// retryable timeout rather than a hang. Blob uploads go through a twin
// transport without the response-header bound (see Options).
func baseTransport(o Options) http.RoundTripper {
	if o.Transport != nil {
		return o.Transport
	}
	t := remote.DefaultTransport.(*http.Transport).Clone()
	stall := o.stallTimeout()
	d := &net.Dialer{Timeout: o.connectTimeout(), KeepAlive: 30 * time.Second}
	t.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			return nil, err
		}
		return &stallConn{Conn: c, idle: stall}, nil
	}
	t.TLSHandshakeTimeout = o.connectTimeout()
	if o.RootCAs != nil {
		t.TLSClientConfig = &tls.Config{RootCAs: o.RootCAs, MinVersion: tls.VersionTLS12}
	}
	uploads := t.Clone()
	t.ResponseHeaderTimeout = o.responseTimeout()
	return &uploadRouter{other: t, uploads: uploads}
}

// uploadRouter sends blob uploads (PATCH, and the PUT that commits them)
// to a transport without a response-header timeout: the registry may
// answer only after verifying and storing the whole blob.
type uploadRouter struct {
	other, uploads *http.Transport
}

func (u *uploadRouter) RoundTrip(req *http.Request) (*http.Response, error) {
	if (req.Method == http.MethodPatch || req.Method == http.MethodPut) && strings.Contains(req.URL.Path, "/blobs/uploads/") {
		return u.uploads.RoundTrip(req)
	}
	return u.other.RoundTrip(req)
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
