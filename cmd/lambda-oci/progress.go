package main

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

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
	// repos is how many repositories the push goes to: with more than
	// one, every line names its repository.
	repos int
	// heartbeat is how often, off a terminal, a line says an upload is
	// still going when nothing else was printed (0: never).
	heartbeat time.Duration

	mu      sync.Mutex
	p       *mpb.Progress // on a terminal, from the first event on
	bars    map[string]*blobBar
	closed  bool
	started time.Time
	last    time.Time // the last line printed (plain output)
	active  map[string]registry.ProgressEvent
	tally   map[registry.ProgressStatus]int
	bytes   int64 // pushed
	stop    chan struct{}
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
	return &progressRenderer{w: w, tty: tty, heartbeat: 10 * time.Second, bars: map[string]*blobBar{},
		active: map[string]registry.ProgressEvent{}, tally: map[registry.ProgressStatus]int{}}
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
	r.count(e)
	if !r.tty {
		line := finishedLine(e)
		if e.Status == registry.ProgressRetrying {
			line = retryLine(e)
		}
		if line != "" {
			r.println(e.Repository, line)
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

// count keeps what the summary and the heartbeat need; the first event
// starts the heartbeat off a terminal.
func (r *progressRenderer) count(e registry.ProgressEvent) {
	if r.started.IsZero() {
		r.started = time.Now()
		if !r.tty && r.heartbeat > 0 {
			r.stop = make(chan struct{})
			go r.beat(r.stop)
		}
	}
	key := e.Repository + "@" + e.Digest.String()
	switch e.Status {
	case registry.ProgressStarted, registry.ProgressRunning, registry.ProgressRetrying:
		r.active[key] = e
	default:
		delete(r.active, key)
		r.tally[e.Status]++
		if e.Status == registry.ProgressPushed {
			r.bytes += e.Size
		}
	}
}

// beat prints, off a terminal, a line when uploads are still going and
// nothing was printed for a heartbeat interval: CI systems that kill
// silent jobs, and people watching a log, both see the push is alive.
func (r *progressRenderer) beat(stop chan struct{}) {
	t := time.NewTicker(r.heartbeat / 2)
	defer t.Stop()
	for {
		select {
		case <-stop:
			return
		case now := <-t.C:
			r.mu.Lock()
			if len(r.active) > 0 && now.Sub(r.last) >= r.heartbeat {
				var done, total int64
				for _, e := range r.active {
					done += e.Done
					total += e.Size
				}
				r.println("", fmt.Sprintf("still uploading %d blob(s): %s of %s sent", len(r.active),
					humanize.IBytes(uint64(max(done, 0))), humanize.IBytes(uint64(max(total, 0)))))
			}
			r.mu.Unlock()
		}
	}
}

// println prints one plain line, naming the repository when the push goes
// to several. Called with r.mu held.
func (r *progressRenderer) println(repo, line string) {
	if r.repos > 1 && repo != "" {
		line = repo + ": " + line
	}
	fmt.Fprintln(r.w, line)
	r.last = time.Now()
}

// summary is the push's one-line account.
func (r *progressRenderer) summary() string {
	parts := []string{fmt.Sprintf("%d blob(s) pushed (%s)", r.tally[registry.ProgressPushed], humanize.IBytes(uint64(r.bytes)))}
	if n := r.tally[registry.ProgressExists]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d already present", n))
	}
	if n := r.tally[registry.ProgressMounted]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d mounted", n))
	}
	if n := r.tally[registry.ProgressFailed]; n > 0 {
		parts = append(parts, fmt.Sprintf("%d failed", n))
	}
	return fmt.Sprintf("push: %s in %s", strings.Join(parts, ", "), time.Since(r.started).Round(10*time.Millisecond))
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
	if r.stop != nil {
		close(r.stop)
	}
	started := !r.started.IsZero()
	r.mu.Unlock()
	if p != nil {
		p.Wait()
	}
	if started {
		r.mu.Lock()
		fmt.Fprintln(r.w, "lambda-oci: "+r.summary())
		r.mu.Unlock()
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

// retryLine is the plain-output line for a retry: visible by default, so
// a slow push is never silent.
func retryLine(e registry.ProgressEvent) string {
	return fmt.Sprintf("%s retry %d of %d in %s: %v", blobLabel(e), e.Attempt, e.Attempts, e.Delay.Round(time.Millisecond), e.Err)
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
