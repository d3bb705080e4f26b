package main

import (
	"fmt"
	"io"
	"sync"
	"sync/atomic"

	"github.com/dustin/go-humanize"
	"github.com/vbauerster/mpb/v8"
	"github.com/vbauerster/mpb/v8/decor"
	"golang.org/x/term"

	"github.com/lambda-oci/lambda-oci/registry"
)

// progressRenderer draws the registry's upload events on stderr: a bar per
// blob (mpb) on a terminal; otherwise one line per finished blob, which
// reads well in CI logs. Log lines go through it too, so on a terminal they
// print above the bars instead of through them.
type progressRenderer struct {
	w   io.Writer
	tty bool

	mu     sync.Mutex
	p      *mpb.Progress // on a terminal, from the first event on
	bars   map[string]*blobBar
	closed bool
}

type blobBar struct {
	bar *mpb.Bar
	// status is read by mpb's render goroutine, which must not wait for
	// the renderer's lock: event holds it while mpb serves its calls.
	status atomic.Value // registry.ProgressStatus
}

func newProgressRenderer(w io.Writer) *progressRenderer {
	return newProgressRendererTTY(w, isTerminal(w))
}

func newProgressRendererTTY(w io.Writer, tty bool) *progressRenderer {
	return &progressRenderer{w: w, tty: tty, bars: map[string]*blobBar{}}
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

// event is registry.Options.Progress.
func (r *progressRenderer) event(e registry.ProgressEvent) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return
	}
	if !r.tty {
		if line := finishedLine(e); line != "" {
			fmt.Fprintln(r.w, line)
		}
		return
	}
	if r.p == nil {
		// mpb tells a terminal by itself; auto refresh also draws on a
		// writer that is not one (tests).
		r.p = mpb.New(mpb.WithOutput(r.w), mpb.WithAutoRefresh())
	}
	key := e.Digest.String()
	b := r.bars[key]
	if b == nil {
		b = &blobBar{}
		b.status.Store(registry.ProgressStarted)
		// Made with no total, the bar completes only when told to (not
		// when the bytes sent reach the size, before the registry has
		// acknowledged them); then given its size to draw.
		b.bar = r.p.AddBar(0, mpb.BarWidth(30),
			mpb.PrependDecorators(decor.Name(blobLabel(e))),
			mpb.AppendDecorators(decor.Any(func(s decor.Statistics) string {
				return barText(b.status.Load().(registry.ProgressStatus), s.Current, s.Total)
			})),
		)
		b.bar.SetTotal(e.Size, false)
		r.bars[key] = b
	}
	b.status.Store(e.Status)
	switch e.Status {
	case registry.ProgressRunning, registry.ProgressRetrying:
		b.bar.SetCurrent(e.Done)
	case registry.ProgressPushed, registry.ProgressExists, registry.ProgressMounted:
		b.bar.SetTotal(e.Size, true)
	case registry.ProgressFailed:
		b.bar.Abort(false)
	}
}

// logf prints one log line: above the bars on a terminal.
func (r *progressRenderer) logf(format string, args ...any) {
	line := fmt.Sprintf("lambda-oci: "+format+"\n", args...)
	r.mu.Lock()
	p := r.p
	if p == nil || r.closed {
		defer r.mu.Unlock()
		_, _ = io.WriteString(r.w, line)
		return
	}
	r.mu.Unlock()
	if _, err := p.Write([]byte(line)); err != nil {
		_, _ = io.WriteString(r.w, line)
	}
}

// wait draws the last frame and stops the bars; events after it are
// ignored. Safe to call more than once.
func (r *progressRenderer) wait() {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return
	}
	r.closed = true
	p := r.p
	for _, b := range r.bars {
		if !b.bar.Completed() && !b.bar.Aborted() {
			b.bar.Abort(false) // a push that ended early (cancelled)
		}
	}
	r.mu.Unlock()
	if p != nil {
		p.Wait()
	}
}

// blobLabel is "sha256:" and 12 hex digits, as docker shows them.
func blobLabel(e registry.ProgressEvent) string {
	s := e.Digest.String()
	if len(s) > 19 {
		s = s[:19]
	}
	if e.Config {
		s += " (config)"
	}
	return s
}

// finishedLine is the plain-output line for a blob's last event.
func finishedLine(e registry.ProgressEvent) string {
	size := humanize.IBytes(uint64(max(e.Size, 0)))
	switch e.Status {
	case registry.ProgressPushed:
		return fmt.Sprintf("%s pushed %s", blobLabel(e), size)
	case registry.ProgressExists:
		return fmt.Sprintf("%s already present %s", blobLabel(e), size)
	case registry.ProgressMounted:
		return fmt.Sprintf("%s mounted %s", blobLabel(e), size)
	case registry.ProgressFailed:
		return fmt.Sprintf("%s failed after %s of %s", blobLabel(e), humanize.IBytes(uint64(max(e.Done, 0))), size)
	}
	return ""
}

// barText follows a bar: bytes while running, the outcome once done.
func barText(st registry.ProgressStatus, cur, total int64) string {
	size := humanize.IBytes(uint64(max(total, 0)))
	switch st {
	case registry.ProgressPushed:
		return "pushed " + size
	case registry.ProgressExists:
		return "already present " + size
	case registry.ProgressMounted:
		return "mounted " + size
	case registry.ProgressFailed:
		return "failed after " + humanize.IBytes(uint64(max(cur, 0))) + " of " + size
	case registry.ProgressRetrying:
		return "retrying"
	}
	return humanize.IBytes(uint64(max(cur, 0))) + " / " + size
}
