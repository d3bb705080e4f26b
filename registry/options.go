package registry

import (
	"crypto/x509"
	"net/http"
	"runtime"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
)

// Registry authentication modes for Options.RegistryAuth.
const (
	// AuthAuto picks ECR auth for ECR hosts, ECR Public for public.ecr.aws
	// (when AWS credentials exist), docker config otherwise.
	AuthAuto = ""
	// AuthECR forces ECR GetAuthorizationToken auth (and ECR repository
	// management) for every registry host, using Options.Region.
	AuthECR = "ecr"
)

// DefaultRetries is the number of retries after a failed request. Backoff
// starts at one second and doubles (capped at 30 s), so five retries ride
// out about a minute of registry trouble, which suits multi-GB blobs.
const DefaultRetries = 5

// Timeouts of the default transport. Every wait on the network is bounded,
// so a registry that is down, unreachable or hung fails the push instead of
// hanging it; each bound applies per attempt.
const (
	// DefaultConnectTimeout bounds the TCP connect and, separately, the
	// TLS handshake.
	DefaultConnectTimeout = 10 * time.Second
	// DefaultResponseTimeout bounds the wait for a response's headers
	// once a request has been sent, except for blob uploads (see
	// DefaultStallTimeout). Registries answer everything else (ping,
	// token, existence checks, upload sessions, manifests) in well under
	// a second.
	DefaultResponseTimeout = 30 * time.Second
	// DefaultStallTimeout is how long a connection may make no progress
	// (no byte read or written) before it is abandoned and the request
	// retried. It is what bounds a blob upload's final answer: a registry
	// may take a while to verify and store a multi-GB blob before it
	// answers the PATCH or the committing PUT, so it is generous.
	DefaultStallTimeout = 2 * time.Minute
)

// Options are every registry knob in one place. The zero value works:
// default keychain, default transport, NumCPU jobs, DefaultRetries.
type Options struct {
	// Keychain resolves credentials; nil builds the default chain (ECR by
	// host or RegistryAuth, ECR Public, docker config, anonymous).
	Keychain authn.Keychain
	// Transport is the base HTTP transport; nil uses one with connection
	// stall detection (StallTimeout). Tests pass one trusting their CA.
	Transport http.RoundTripper
	// Jobs bounds concurrent blob uploads; 0 means runtime.NumCPU().
	Jobs int
	// Retries after a retryable failure: 5xx, 429, a connection reset or
	// timed out mid-request. Exactly Retries more attempts are made, each
	// a whole blob upload or manifest put, with doubling backoff (capped
	// at 30 s, 50% jitter). Not retried: a connection that cannot be
	// opened at all (nothing listens, no route, unknown host, connect
	// timeout), auth failures, 4xx answers. The first failure that is not
	// retried, or whose retries are spent, cancels the whole push: no
	// queued blob starts and no other blob retries after it. 0 means
	// DefaultRetries, negative means none.
	Retries int
	// RetryBaseDelay is the first backoff delay (1 s if 0); tests shorten it.
	RetryBaseDelay time.Duration
	// RootCAs, when set, replaces the system roots in the default transport
	// (SSL_CERT_FILE also works, for the whole process).
	RootCAs *x509.CertPool
	// ConnectTimeout bounds the TCP connect and the TLS handshake, each;
	// 0 means DefaultConnectTimeout. Only applies to the default transport.
	ConnectTimeout time.Duration
	// ResponseTimeout bounds the wait for response headers after a
	// request is sent, for every request but blob uploads (PATCH and the
	// committing PUT), which StallTimeout bounds instead; 0 means
	// DefaultResponseTimeout. Only applies to the default transport.
	ResponseTimeout time.Duration
	// StallTimeout abandons a connection that makes no progress; 0 means
	// DefaultStallTimeout. Only applies to the default transport.
	StallTimeout time.Duration
	// CreateRepository creates a missing ECR repository before pushing.
	CreateRepository bool
	// RegistryAuth is AuthAuto ("") or AuthECR ("ecr").
	RegistryAuth string
	// Region is the AWS region for ECR; empty means taken from the host
	// (required with AuthECR for hosts that do not name one).
	Region string
	// Progress receives per-blob upload events, one call at a time (never
	// concurrently), from the upload goroutines: it should return quickly.
	// nil or Quiet: no events. The library draws nothing itself.
	Progress func(ProgressEvent)
	// Quiet silences Progress.
	Quiet bool
	// Logf receives diagnostics (never credentials); nil discards them.
	Logf func(format string, args ...any)
}

func (o Options) jobs() int {
	if o.Jobs > 0 {
		return o.Jobs
	}
	return runtime.NumCPU()
}

func (o Options) retries() int {
	switch {
	case o.Retries < 0:
		return 0
	case o.Retries == 0:
		return DefaultRetries
	}
	return o.Retries
}

func (o Options) connectTimeout() time.Duration {
	if o.ConnectTimeout > 0 {
		return o.ConnectTimeout
	}
	return DefaultConnectTimeout
}

func (o Options) responseTimeout() time.Duration {
	if o.ResponseTimeout > 0 {
		return o.ResponseTimeout
	}
	return DefaultResponseTimeout
}

func (o Options) stallTimeout() time.Duration {
	if o.StallTimeout > 0 {
		return o.StallTimeout
	}
	return DefaultStallTimeout
}

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o Options) progressFunc() func(ProgressEvent) {
	if o.Quiet {
		return nil
	}
	return o.Progress
}
