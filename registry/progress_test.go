package registry

import (
	"context"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// eventLog records progress events and checks they never arrive
// concurrently (the library promises one call at a time).
type eventLog struct {
	inside     atomic.Int32
	concurrent atomic.Bool
	mu         sync.Mutex
	events     []ProgressEvent
}

func (l *eventLog) record(e ProgressEvent) {
	if l.inside.Add(1) > 1 {
		l.concurrent.Store(true)
	}
	defer l.inside.Add(-1)
	time.Sleep(time.Millisecond) // widen the window for overlapping calls
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, e)
}

// byBlob groups the statuses per blob digest, in order.
func (l *eventLog) byBlob() map[string][]ProgressStatus {
	l.mu.Lock()
	defer l.mu.Unlock()
	m := map[string][]ProgressStatus{}
	for _, e := range l.events {
		m[e.Digest.String()] = append(m[e.Digest.String()], e.Status)
	}
	return m
}

func (l *eventLog) last(status ProgressStatus) []ProgressEvent {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []ProgressEvent
	for _, e := range l.events {
		if e.Status == status {
			out = append(out, e)
		}
	}
	return out
}

func TestProgressEvents(t *testing.T) {
	host := startInProcess(t)
	img, err := random.Image(600<<10, 3) // over progressStep: several progress events
	require.NoError(t, err)

	var l eventLog
	_, err = Push(context.Background(), img, []string{host + "/fn:v1"}, Options{Jobs: 4, Progress: l.record})
	require.NoError(t, err)
	assert.False(t, l.concurrent.Load(), "events are delivered one at a time")
	blobs := l.byBlob()
	require.Len(t, blobs, 4, "3 layers + config")
	for d, st := range blobs {
		assert.Equal(t, ProgressStarted, st[0], d)
		assert.Equal(t, ProgressPushed, st[len(st)-1], d)
	}
	pushed := l.last(ProgressPushed)
	configs := 0
	for _, e := range pushed {
		assert.Equal(t, e.Size, e.Done, "a pushed blob is all sent")
		if e.Config {
			configs++
		}
	}
	assert.Equal(t, 1, configs)
	running := l.last(ProgressRunning)
	require.NotEmpty(t, running)
	for _, e := range running {
		assert.LessOrEqual(t, e.Done, e.Size)
	}

	// Again: found by the existence check. Quiet: nothing at all.
	var again eventLog
	_, err = Push(context.Background(), img, []string{host + "/fn:v1"}, Options{Progress: again.record})
	require.NoError(t, err)
	assert.Len(t, again.last(ProgressExists), 4)
	var quiet eventLog
	_, err = Push(context.Background(), img, []string{host + "/fn:v1"}, Options{Progress: quiet.record, Quiet: true})
	require.NoError(t, err)
	assert.Empty(t, quiet.events)
}

func TestProgressEventsRetryAndFailure(t *testing.T) {
	t.Run("retrying", func(t *testing.T) {
		var once sync.Once
		_, host := startCounter(t, func(r *http.Request) int {
			code := 0
			if r.Method == http.MethodPatch {
				once.Do(func() { code = http.StatusServiceUnavailable })
			}
			return code
		})
		var l eventLog
		_, err := Push(context.Background(), testImage(t, 1), []string{host + "/fn:v1"},
			Options{Jobs: 1, RetryBaseDelay: time.Millisecond, Progress: l.record})
		require.NoError(t, err)
		retrying := l.last(ProgressRetrying)
		require.Len(t, retrying, 1)
		assert.ErrorContains(t, retrying[0].Err, "injected")
		assert.Len(t, l.last(ProgressPushed), 2)
		assert.Empty(t, l.last(ProgressFailed))
	})
	t.Run("failed", func(t *testing.T) {
		_, host := startCounter(t, func(r *http.Request) int {
			if r.Method == http.MethodPatch {
				return http.StatusBadRequest
			}
			return 0
		})
		var l eventLog
		_, err := Push(context.Background(), testImage(t, 1), []string{host + "/fn:v1"},
			Options{Jobs: 1, Progress: l.record})
		require.Error(t, err)
		failed := l.last(ProgressFailed)
		require.Len(t, failed, 1, "the first failure stops the push: one blob failed, none other started")
		assert.ErrorContains(t, failed[0].Err, "400")
		assert.Len(t, l.byBlob(), 1)
	})
}
