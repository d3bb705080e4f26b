package buildkit

import (
	"sync"
	"time"

	bkclient "github.com/moby/buildkit/client"
	"github.com/opencontainers/go-digest"
)

// Step is one vertex of the daemon's work, once it has finished.
type Step struct {
	// Name is the vertex name: "base ...", "layer NAME", "code NAME",
	// "stack the layers on the base", "exporting to image", ...
	Name string `json:"name"`
	// Cached reports that the daemon reused an earlier result.
	Cached   bool          `json:"cached,omitempty"`
	Duration time.Duration `json:"duration"`
	// Error is the daemon's message for a failed step.
	Error string `json:"error,omitempty"`
}

// Event is one piece of the daemon's progress: a step finished, or a
// sub-task of a step ("pushing layers", "exporting config ...") finished.
type Event struct {
	Step
	// Task is the sub-task's name; empty for a whole step.
	Task string `json:"task,omitempty"`
	// Current and Total are the sub-task's progress (bytes or items), when
	// the daemon counts them.
	Current int64 `json:"current,omitempty"`
	Total   int64 `json:"total,omitempty"`
}

// tracker turns BuildKit's status stream (repeated, partial updates of
// vertices and their statuses) into one event per finished step or task.
type tracker struct {
	events func(Event)

	mu    sync.Mutex
	order []digest.Digest
	verts map[digest.Digest]*bkclient.Vertex
	done  map[string]bool // vertices and tasks already reported
}

func newTracker(events func(Event)) *tracker {
	return &tracker{events: events, verts: map[digest.Digest]*bkclient.Vertex{}, done: map[string]bool{}}
}

func (t *tracker) update(s *bkclient.SolveStatus) {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, v := range s.Vertexes {
		if _, ok := t.verts[v.Digest]; !ok {
			t.order = append(t.order, v.Digest)
		}
		t.verts[v.Digest] = v
		if (v.Completed == nil && !v.Cached && v.Error == "") || t.done[v.Digest.String()] {
			continue
		}
		if v.Cached && v.Completed == nil && v.Error == "" {
			// A cached vertex is reported complete in a later update too;
			// wait for it so the duration is known.
			continue
		}
		t.done[v.Digest.String()] = true
		t.emit(Event{Step: stepOf(v)})
	}
	for _, st := range s.Statuses {
		if st.Completed == nil {
			continue
		}
		key := st.Vertex.String() + "/" + st.ID
		if t.done[key] {
			continue
		}
		t.done[key] = true
		ev := Event{Task: st.ID, Current: st.Current, Total: st.Total}
		if v := t.verts[st.Vertex]; v != nil {
			ev.Name = v.Name
		}
		if st.Started != nil {
			ev.Duration = st.Completed.Sub(*st.Started)
		}
		t.emit(ev)
	}
}

func (t *tracker) emit(e Event) {
	if t.events != nil {
		t.events(e)
	}
}

// steps are the finished vertices in the order the daemon announced them.
func (t *tracker) steps() []Step {
	t.mu.Lock()
	defer t.mu.Unlock()
	var out []Step
	for _, d := range t.order {
		if v := t.verts[d]; v.Completed != nil || v.Error != "" {
			out = append(out, stepOf(v))
		}
	}
	return out
}

func stepOf(v *bkclient.Vertex) Step {
	s := Step{Name: v.Name, Cached: v.Cached, Error: v.Error}
	if v.Started != nil && v.Completed != nil {
		s.Duration = v.Completed.Sub(*v.Started)
	}
	return s
}
