package registry

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"golang.org/x/term"
)

// progress reports blob uploads: on a terminal, one redrawn bar per blob
// (bytes/s, ETA); otherwise one line per finished blob, which reads well in
// CI logs. A nil *progress (quiet) ignores every call.
type progress struct {
	w   io.Writer
	tty bool

	mu    sync.Mutex
	bars  []*bar
	drawn int // lines drawn last time (tty), to move the cursor back up

	stop chan struct{}
	wg   sync.WaitGroup
}

func newProgress(w io.Writer) *progress {
	if w == nil {
		return nil
	}
	p := &progress{w: w, tty: isTerminal(w)}
	if p.tty {
		p.stop = make(chan struct{})
		p.wg.Add(1)
		go p.loop()
	}
	return p
}

func isTerminal(w io.Writer) bool {
	f, ok := w.(interface{ Fd() uintptr })
	return ok && term.IsTerminal(int(f.Fd()))
}

func (p *progress) loop() {
	defer p.wg.Done()
	t := time.NewTicker(200 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-p.stop:
			return
		case <-t.C:
			p.mu.Lock()
			p.redraw()
			p.mu.Unlock()
		}
	}
}

func (p *progress) close() {
	if p == nil {
		return
	}
	if p.tty {
		close(p.stop)
		p.wg.Wait()
		p.mu.Lock()
		p.redraw()
		p.mu.Unlock()
	}
}

// redraw rewrites the whole block of bars in place (caller holds mu).
func (p *progress) redraw() {
	var b strings.Builder
	if p.drawn > 0 {
		fmt.Fprintf(&b, "\x1b[%dA", p.drawn)
	}
	now := time.Now()
	for _, br := range p.bars {
		b.WriteString("\r\x1b[K")
		b.WriteString(br.line(now))
		b.WriteByte('\n')
	}
	p.drawn = len(p.bars)
	_, _ = io.WriteString(p.w, b.String())
}

// wrapLogf serialises f with the progress output. On a terminal the bar
// block is cleared first and redrawn below the log line on the next tick.
func (p *progress) wrapLogf(f func(string, ...any)) func(string, ...any) {
	if f == nil {
		return nil
	}
	mu := &sync.Mutex{}
	if p != nil {
		mu = &p.mu
	}
	return func(format string, args ...any) {
		mu.Lock()
		defer mu.Unlock()
		if p != nil && p.tty && p.drawn > 0 {
			fmt.Fprintf(p.w, "\x1b[%dA\x1b[J", p.drawn)
			p.drawn = 0
		}
		f(format, args...)
	}
}

func (p *progress) start(d v1.Hash, size int64, config bool) *bar {
	if p == nil {
		return nil
	}
	b := &bar{p: p, digest: d, size: size, config: config, started: time.Now()}
	if p.tty {
		p.mu.Lock()
		p.bars = append(p.bars, b)
		p.mu.Unlock()
	}
	return b
}

// bar is one blob's progress. Methods are safe on a nil *bar.
type bar struct {
	p       *progress
	digest  v1.Hash
	size    int64
	config  bool
	started time.Time

	mu     sync.Mutex
	n      int64
	status string // "" while running
}

func (b *bar) restart() {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.n = 0
	b.started = time.Now()
	b.mu.Unlock()
}

func (b *bar) add(n int64) {
	if b == nil {
		return
	}
	b.mu.Lock()
	b.n += n
	b.mu.Unlock()
}

func (b *bar) done(status string) {
	if b == nil {
		return
	}
	if status == "" {
		status = StatusExists
	}
	b.finish(status)
}

func (b *bar) fail() {
	if b != nil {
		b.finish("failed")
	}
}

func (b *bar) finish(status string) {
	b.mu.Lock()
	b.status = status
	b.mu.Unlock()
	if !b.p.tty {
		b.p.mu.Lock()
		_, _ = fmt.Fprintln(b.p.w, b.line(time.Now()))
		b.p.mu.Unlock()
	}
}

func (b *bar) label() string {
	s := b.digest.String()
	if len(s) > 19 {
		s = s[:19] // "sha256:" + 12 hex, like docker
	}
	if b.config {
		s += " (config)"
	}
	return s
}

func (b *bar) line(now time.Time) string {
	b.mu.Lock()
	defer b.mu.Unlock()
	switch b.status {
	case StatusPushed:
		return fmt.Sprintf("%s pushed %s", b.label(), humanBytes(b.size))
	case StatusExists:
		return fmt.Sprintf("%s already present %s", b.label(), humanBytes(b.size))
	case StatusMounted:
		return fmt.Sprintf("%s mounted %s", b.label(), humanBytes(b.size))
	case "failed":
		return fmt.Sprintf("%s failed after %s of %s", b.label(), humanBytes(b.n), humanBytes(b.size))
	}
	const width = 30
	frac := 0.0
	if b.size > 0 {
		frac = float64(b.n) / float64(b.size)
	}
	if frac > 1 {
		frac = 1
	}
	fill := int(frac * width)
	el := now.Sub(b.started).Seconds()
	rate := 0.0
	if el > 0 {
		rate = float64(b.n) / el
	}
	eta := "--"
	if rate > 0 {
		eta = (time.Duration(float64(b.size-b.n)/rate) * time.Second).Round(time.Second).String()
	}
	return fmt.Sprintf("%s [%s%s] %s/%s %s/s ETA %s", b.label(),
		strings.Repeat("=", fill), strings.Repeat(" ", width-fill),
		humanBytes(b.n), humanBytes(b.size), humanBytes(int64(rate)), eta)
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
