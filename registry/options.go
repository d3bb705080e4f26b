package registry

import (
	"crypto/x509"
	"io"
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

// DefaultStallTimeout is how long a connection may make no progress (no
// byte read or written) before it is abandoned and the request retried.
// Generous, because a registry may take a while to verify and commit a
// multi-GB blob before it answers the final PUT.
const DefaultStallTimeout = 2 * time.Minute

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
	// Retries after a retryable failure (5xx, 429, connection reset,
	// timeout); 0 means DefaultRetries, negative means none.
	Retries int
	// RetryBaseDelay is the first backoff delay (1 s if 0); tests shorten it.
	RetryBaseDelay time.Duration
	// RootCAs, when set, replaces the system roots in the default transport
	// (SSL_CERT_FILE also works, for the whole process).
	RootCAs *x509.CertPool
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
	// Progress receives per-blob progress (bars on a terminal, one line
	// per blob otherwise); nil or Quiet silences it.
	Progress io.Writer
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

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o Options) progressWriter() io.Writer {
	if o.Quiet || o.Progress == nil {
		return nil
	}
	return o.Progress
}
