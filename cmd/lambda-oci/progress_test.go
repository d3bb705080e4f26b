package main

import (
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"

	"github.com/lambda-oci/lambda-oci/registry"
)

func TestProgressRendererLines(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ab", 32)}
	var out strings.Builder
	r := newProgressRenderer(&out)
	assert.False(t, r.tty, "a strings.Builder is not a terminal")
	for _, e := range []registry.ProgressEvent{
		{Digest: d, Size: 3 << 20, Status: registry.ProgressStarted},
		{Digest: d, Size: 3 << 20, Done: 1 << 20, Status: registry.ProgressRunning},
		{Digest: d, Size: 3 << 20, Status: registry.ProgressRetrying, Err: errors.New("503"), Attempt: 2, Attempts: 5, Delay: 2 * time.Second},
		{Digest: d, Size: 3 << 20, Done: 3 << 20, Status: registry.ProgressPushed},
		{Digest: d, Size: 2048, Config: true, Status: registry.ProgressExists},
		{Digest: d, Size: 10, Status: registry.ProgressMounted},
		{Digest: d, Size: 5 << 20, Done: 1536 << 10, Status: registry.ProgressFailed, Err: errors.New("400")},
	} {
		r.event(e)
	}
	r.logf("a log line %d", 1)
	r.wait()
	r.event(registry.ProgressEvent{Digest: d, Size: 1, Status: registry.ProgressPushed}) // after wait: ignored
	got := out.String()
	summary := got[strings.LastIndex(got, "lambda-oci: push: "):]
	assert.Equal(t, "sha256:abababababab retry 2 of 5 in 2s: 503\n"+
		"sha256:abababababab pushed 3.0 MiB\n"+
		"sha256:abababababab (config) already present 2.0 KiB\n"+
		"sha256:abababababab mounted 10 B\n"+
		"sha256:abababababab failed after 1.5 MiB of 5.0 MiB\n"+
		"lambda-oci: a log line 1\n", strings.TrimSuffix(got, summary), "retries are visible by default")
	assert.Regexp(t, `^lambda-oci: push: 1 blob\(s\) pushed \(3\.0 MiB\), 1 already present, 1 mounted, 1 failed in \S+\n$`, summary)
}

// Pushing to several repositories, every line names its repository.
func TestProgressRendererNamesRepositories(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	var out strings.Builder
	r := newProgressRenderer(&out)
	r.repos = 2
	r.event(registry.ProgressEvent{Digest: d, Size: 10, Status: registry.ProgressPushed, Repository: "a.example/fn"})
	r.event(registry.ProgressEvent{Digest: d, Size: 10, Status: registry.ProgressExists, Repository: "b.example/fn"})
	r.wait()
	assert.Contains(t, out.String(), "a.example/fn: sha256:cdcdcdcdcdcd pushed 10 B\n")
	assert.Contains(t, out.String(), "b.example/fn: sha256:cdcdcdcdcdcd already present 10 B\n")
}

// Off a terminal, a long upload says it is alive at least every
// heartbeat interval (shortened here; the default is 10 s).
func TestProgressRendererHeartbeat(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ef", 32)}
	var mu sync.Mutex
	var out strings.Builder
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	r := newProgressRenderer(w)
	r.heartbeat = 20 * time.Millisecond
	r.event(registry.ProgressEvent{Digest: d, Size: 4 << 20, Status: registry.ProgressStarted})
	r.event(registry.ProgressEvent{Digest: d, Size: 4 << 20, Done: 1 << 20, Status: registry.ProgressRunning})
	assert.Eventually(t, func() bool {
		mu.Lock()
		defer mu.Unlock()
		return strings.Contains(out.String(), "still uploading 1 blob(s): 1.0 MiB of 4.0 MiB sent")
	}, 10*time.Second, 10*time.Millisecond)
	r.event(registry.ProgressEvent{Digest: d, Size: 4 << 20, Done: 4 << 20, Status: registry.ProgressPushed})
	r.wait()
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

func TestProgressRendererTerminal(t *testing.T) {
	d1 := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("cd", 32)}
	d2 := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("ef", 32)}
	var out syncBuffer
	r := newProgressRendererTTY(&out, true)
	r.event(registry.ProgressEvent{Digest: d1, Size: 100, Status: registry.ProgressStarted})
	r.event(registry.ProgressEvent{Digest: d2, Size: 50, Config: true, Status: registry.ProgressStarted})
	r.event(registry.ProgressEvent{Digest: d1, Size: 100, Done: 50, Status: registry.ProgressRunning})
	r.logf("hello from the log")
	r.event(registry.ProgressEvent{Digest: d1, Size: 100, Done: 100, Status: registry.ProgressPushed})
	r.event(registry.ProgressEvent{Digest: d2, Size: 50, Config: true, Status: registry.ProgressExists})
	r.wait()
	s := out.String()
	assert.Regexp(t, `sha256:cdcdcdcdcdcd \[=+\] pushed 100 B\n`, s)
	assert.Regexp(t, `sha256:efefefefefef \(config\) \[=+\] already present 50 B\n`, s)
	assert.Contains(t, s, "lambda-oci: hello from the log\n")
}

func TestProgressRendererTerminalCancelled(t *testing.T) {
	d := v1.Hash{Algorithm: "sha256", Hex: strings.Repeat("12", 32)}
	var out syncBuffer
	r := newProgressRendererTTY(&out, true)
	r.event(registry.ProgressEvent{Digest: d, Size: 100, Status: registry.ProgressStarted})
	r.wait() // must not hang on an unfinished bar
	assert.Contains(t, out.String(), "sha256:121212121212")
}

// syncBuffer is a strings.Builder safe for mpb's render goroutine.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
