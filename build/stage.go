package build

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/publish"
)

// stage hands a build's blobs to a destination that takes them before the
// image exists (publish.Stager: a registry), so uploads overlap the build:
// each base layer as its listing reads it, each added layer as soon as it
// is converted. Only blobs are staged; the manifest and the tags are
// Publish's, after every check passed.
//
// A base layer is downloaded once for both its listing and its upload: the
// listing reads the blob through a tee that spools it for the upload (see
// tee). When the upload does not need the bytes (the blob is already in
// the destination, or mounted from the base's repository) the listing
// reads alone; when the listing does not need them (a listing cache), the
// upload reads alone.
//
// A nil *stage stages nothing: Build without a publisher, or with
// publishers that only write once the image exists.
type stage struct {
	to     publish.Stager
	ctx    context.Context // the uploads'
	cancel context.CancelCauseFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	err     error
	claimed map[v1.Hash]bool
}

// errStageAborted cancels the uploads of a build that failed or was
// refused.
var errStageAborted = errors.New("build: not published")

// newStage stages to to; nil when to is nil. Its uploads live until wait
// or abort, under ctx.
func newStage(ctx context.Context, to publish.Stager) *stage {
	if to == nil {
		return nil
	}
	ctx, cancel := context.WithCancelCause(ctx)
	return &stage{to: to, ctx: ctx, cancel: cancel, claimed: map[v1.Hash]bool{}}
}

// claim reports whether d is not staged yet, and marks it.
func (s *stage) claim(d v1.Hash) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.claimed[d] {
		return false
	}
	s.claimed[d] = true
	return true
}

// upload stages l in the background; done, if set, runs when it returns.
// The first failure cancels the other uploads (the push is lost anyway)
// and is what wait returns.
func (s *stage) upload(l v1.Layer, done func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		err := s.to.Stage(s.ctx, l)
		if done != nil {
			done()
		}
		if err != nil {
			s.mu.Lock()
			if s.err == nil {
				s.err = err
			}
			s.mu.Unlock()
			s.cancel(err)
		}
	}()
}

// added stages an added layer, once converted.
func (s *stage) added(d v1.Hash, l v1.Layer) {
	if s != nil && s.claim(d) {
		s.upload(l, nil)
	}
}

// listBase lists a base layer with list and stages it. list gets the
// layer to read: a tee when the layer is staged here.
func (s *stage) listBase(ctx context.Context, l v1.Layer, d v1.Hash, list func(v1.Layer) (*checks.Listing, error)) (*checks.Listing, error) {
	if s == nil || !s.claim(d) {
		return list(l)
	}
	t := &tee{Layer: l, s: s, ctx: ctx}
	ls, err := list(t)
	t.mu.Lock()
	opened := t.opened
	t.mu.Unlock()
	if !opened && err == nil {
		// Listed without reading the blob (a cache, or another build of
		// the process): the upload reads it alone.
		s.upload(l, nil)
	}
	return ls, err
}

// wait waits for every upload and returns the first failure.
func (s *stage) wait() error {
	if s == nil {
		return nil
	}
	s.wg.Wait()
	s.cancel(nil)
	return s.err
}

// abort cancels the uploads and waits for them to return.
func (s *stage) abort() {
	if s == nil {
		return
	}
	s.cancel(errStageAborted)
	s.wg.Wait()
}

// tee is a base layer as its listing reads it. Opening it downloads the
// blob once: every byte the listing reads is also written to a spool (an
// unlinked temporary file), and the upload starts at once, reading the
// spool as it fills. The listing never waits for the upload, so a slow or
// stalled registry cannot hold up the checks (nor a refusal); the upload
// never downloads the blob again, not even on a retry, which reads the
// spool from its start. When the upload finds the blob in place (or
// mounts it) without reading it, the spool is no longer written.
type tee struct {
	v1.Layer
	s   *stage
	ctx context.Context // the listing's

	mu     sync.Mutex
	opened bool
}

// Compressed is the listing's read of the blob.
func (t *tee) Compressed() (io.ReadCloser, error) {
	t.mu.Lock()
	first := !t.opened
	t.opened = true
	t.mu.Unlock()
	rc, err := t.Layer.Compressed()
	if err != nil || !first {
		return rc, err
	}
	sp, err := newSpool()
	if err != nil {
		// No room for a spool: the upload downloads the blob itself.
		t.s.upload(t.Layer, nil)
		return rc, nil
	}
	t.s.upload(spooled{Layer: t.Layer, sp: sp, ctx: t.s.ctx}, sp.uploaded)
	return &spoolWriter{ctx: t.ctx, src: rc, sp: sp}, nil
}

// spooled is the base layer as the upload reads it: from the spool.
type spooled struct {
	v1.Layer
	sp  *spool
	ctx context.Context // the uploads'
}

// Unwrap keeps the base layer's mount hint for the registry.
func (u spooled) Unwrap() v1.Layer { return u.Layer }

// Compressed reads the spool from its start, waiting for the listing's
// download where it is ahead of it; if the spool failed (no disk space),
// the blob is downloaded again instead.
func (u spooled) Compressed() (io.ReadCloser, error) {
	if u.sp.broken() {
		return u.Layer.Compressed()
	}
	return &spoolReader{sp: u.sp, ctx: u.ctx, closed: make(chan struct{})}, nil
}

// spool holds a blob while it downloads, for one reader at a time per
// upload attempt. Its file is unlinked at once, so nothing is left behind
// whatever happens to the process; it is closed once both the listing
// and the upload are done with it.
type spool struct {
	f *os.File

	mu      sync.Mutex
	n       int64 // bytes written
	done    bool  // the download ended: err says how
	err     error // the download's error, or errSpool…
	full    error // writing the spool failed (the upload downloads afresh)
	unused  bool  // the upload finished: writing on is pointless
	refs    int
	changed chan struct{} // closed and replaced at every change
}

func newSpool() (*spool, error) {
	f, err := os.CreateTemp("", "lambda-oci-spool-*")
	if err != nil {
		return nil, err
	}
	// Unlinked while open (Linux, macOS): the data lives as long as f.
	_ = os.Remove(f.Name())
	return &spool{f: f, refs: 2, changed: make(chan struct{})}, nil
}

// notify wakes the readers; called with mu held.
func (sp *spool) notify() {
	close(sp.changed)
	sp.changed = make(chan struct{})
}

func (sp *spool) broken() bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return sp.full != nil
}

// write appends what the listing read, unless nobody will read it.
func (sp *spool) write(p []byte) {
	sp.mu.Lock()
	skip := sp.unused || sp.full != nil || sp.done
	sp.mu.Unlock()
	if skip {
		return
	}
	_, err := sp.f.Write(p)
	sp.mu.Lock()
	if err != nil {
		sp.full = err
	} else {
		sp.n += int64(len(p))
	}
	sp.notify()
	sp.mu.Unlock()
}

// end records how the download ended (io.EOF: complete).
func (sp *spool) end(err error) {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	if sp.done {
		return
	}
	if errors.Is(err, io.EOF) {
		err = nil
	}
	sp.done, sp.err = true, err
	sp.notify()
}

// wanted reports whether the upload may still read what is not written.
func (sp *spool) wanted() bool {
	sp.mu.Lock()
	defer sp.mu.Unlock()
	return !sp.unused && sp.full == nil && !sp.done
}

// uploaded is the upload's end: nothing more will read the spool.
func (sp *spool) uploaded() {
	sp.mu.Lock()
	sp.unused = true
	sp.mu.Unlock()
	sp.release()
}

func (sp *spool) release() {
	sp.mu.Lock()
	sp.refs--
	last := sp.refs == 0
	sp.mu.Unlock()
	if last {
		_ = sp.f.Close()
		_ = os.Remove(sp.f.Name()) // where unlinking an open file failed
	}
}

// spoolWriter is the listing's blob: what it reads is spooled.
type spoolWriter struct {
	ctx  context.Context
	src  io.ReadCloser
	sp   *spool
	done bool // src ended
}

func (w *spoolWriter) Read(p []byte) (int, error) {
	n, err := w.src.Read(p)
	if n > 0 {
		w.sp.write(p[:n])
	}
	if err != nil {
		w.done = true
		w.sp.end(err)
	}
	return n, err
}

// Close spools the rest of the blob when the listing stopped before its
// end (a reader need not read past the data it wants) and the upload may
// still need it.
func (w *spoolWriter) Close() error {
	if !w.done {
		if err := w.ctx.Err(); err != nil {
			w.sp.end(err)
		} else {
			buf := make([]byte, 32<<10)
			for !w.done && w.sp.wanted() {
				_, _ = w.Read(buf)
			}
			w.sp.end(errListingStopped)
		}
	}
	w.sp.release()
	return w.src.Close()
}

var errListingStopped = errors.New("listing stopped before the end of the blob")

// spoolReader is one upload attempt's read of the spool.
type spoolReader struct {
	sp     *spool
	ctx    context.Context
	off    int64
	once   sync.Once
	closed chan struct{}
}

func (r *spoolReader) Read(p []byte) (int, error) {
	for {
		sp := r.sp
		sp.mu.Lock()
		n, done, err, full, changed := sp.n, sp.done, sp.err, sp.full, sp.changed
		sp.mu.Unlock()
		switch {
		case full != nil:
			// Retryable: the next attempt downloads the blob afresh.
			return 0, fmt.Errorf("spooling the blob: %v: %w", full, io.ErrUnexpectedEOF)
		case r.off < n:
			m, rerr := sp.f.ReadAt(p[:min(int64(len(p)), n-r.off)], r.off)
			r.off += int64(m)
			if rerr != nil && !errors.Is(rerr, io.EOF) {
				return m, rerr
			}
			return m, nil
		case done && err == nil:
			return 0, io.EOF
		case done:
			return 0, err
		}
		select {
		case <-changed:
		case <-r.ctx.Done():
			return 0, r.ctx.Err()
		case <-r.closed:
			return 0, os.ErrClosed
		}
	}
}

// Close ends this attempt's read: a Read waiting for the download returns.
func (r *spoolReader) Close() error {
	r.once.Do(func() { close(r.closed) })
	return nil
}
