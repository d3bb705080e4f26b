package registry

import (
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
)

// ProgressStatus is where one blob's upload stands.
type ProgressStatus string

// Progress statuses. The last event for a blob is one of Pushed, Exists,
// Mounted or Failed.
const (
	// ProgressStarted: the blob's upload began (existence check first).
	ProgressStarted ProgressStatus = "started"
	// ProgressRunning: bytes were sent; Done says how many.
	ProgressRunning ProgressStatus = "progress"
	// ProgressPushed, ProgressExists, ProgressMounted: done, as
	// BlobStatus.Status says.
	ProgressPushed  ProgressStatus = StatusPushed
	ProgressExists  ProgressStatus = StatusExists
	ProgressMounted ProgressStatus = StatusMounted
	// ProgressRetrying: an attempt failed (Err) and another follows;
	// Done starts again from 0.
	ProgressRetrying ProgressStatus = "retrying"
	// ProgressFailed: the blob was not uploaded (Err says why).
	ProgressFailed ProgressStatus = "failed"
)

// ProgressEvent is one step of one blob's upload. The library draws
// nothing: the caller renders these (the CLI draws bars on a terminal).
type ProgressEvent struct {
	Digest v1.Hash
	// Size is the blob's (compressed) size.
	Size int64
	// Done is the bytes sent so far in the current attempt.
	Done int64
	// Status is the step.
	Status ProgressStatus
	// Config marks the image config blob.
	Config bool
	// Repository is where the blob goes ("example.com/team/fn").
	Repository string
	// Attempt and Attempts number a ProgressRetrying event's retry: retry
	// Attempt of Attempts is about to start.
	Attempt, Attempts int
	// Delay is the wait before that retry.
	Delay time.Duration
	// Err is the failure, for ProgressRetrying and ProgressFailed.
	Err error
}

// progressStep is how many bytes pass between two ProgressRunning events
// of one blob, so a multi-GB layer does not make a call per read.
const progressStep = 256 << 10

// progress hands events to the caller's function one at a time, so it
// needs no locking of its own. A nil *progress (no function, or Quiet)
// ignores every call.
type progress struct {
	mu sync.Mutex
	fn func(ProgressEvent)
}

func newProgress(fn func(ProgressEvent)) *progress {
	if fn == nil {
		return nil
	}
	return &progress{fn: fn}
}

func (p *progress) emit(e ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.fn(e)
}

func (p *progress) start(repo string, d v1.Hash, size int64, config bool) *bar {
	if p == nil {
		return nil
	}
	b := &bar{p: p, repo: repo, digest: d, size: size, config: config}
	b.send(ProgressStarted, 0, nil)
	return b
}

// bar is one blob's progress. Methods are safe on a nil *bar.
type bar struct {
	p      *progress
	repo   string
	digest v1.Hash
	size   int64
	config bool

	mu   sync.Mutex
	n    int64
	sent int64 // n at the last ProgressRunning event
}

func (b *bar) send(s ProgressStatus, done int64, err error) {
	b.p.emit(ProgressEvent{Digest: b.digest, Size: b.size, Done: done, Status: s, Config: b.config, Repository: b.repo, Err: err})
}

// restart begins a new attempt's count.
func (b *bar) restart() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.n, b.sent = 0, 0
	b.mu.Unlock()
}

func (b *bar) add(n int64) {
	if b == nil || n == 0 {
		return
	}
	b.mu.Lock()
	b.n += n
	cur := b.n
	due := cur-b.sent >= progressStep || cur >= b.size
	if due {
		b.sent = cur
	}
	b.mu.Unlock()
	if due {
		b.send(ProgressRunning, cur, nil)
	}
}

func (b *bar) retrying(err error, attempt, attempts int, delay time.Duration) {
	if b != nil {
		b.p.emit(ProgressEvent{Digest: b.digest, Size: b.size, Status: ProgressRetrying, Config: b.config, Repository: b.repo,
			Attempt: attempt, Attempts: attempts, Delay: delay, Err: err})
	}
}

func (b *bar) done(status string) {
	if b == nil {
		return
	}
	if status == "" {
		status = StatusExists
	}
	done := b.size
	if status != StatusPushed {
		b.mu.Lock()
		done = b.n
		b.mu.Unlock()
	}
	b.send(ProgressStatus(status), done, nil)
}

func (b *bar) fail(err error) {
	if b == nil {
		return
	}
	b.mu.Lock()
	n := b.n
	b.mu.Unlock()
	b.send(ProgressFailed, n, err)
}
