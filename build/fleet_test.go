package build

import (
	"context"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/publish"
)

// fleet is n functions sharing one layer zip, each with its own code, on
// the committed base, written to one OCI layout.
func fleet(t *testing.T, names ...string) []Target {
	t.Helper()
	shared := writeZip(t, "shared.zip", f("python/shared.py", 0o644, "S = 1\n"))
	out := filepath.Join(t.TempDir(), "layout")
	var ts []Target
	for _, n := range names {
		code := writeDir(t, f("app.py", 0o644, "def handler(e, c):\n    return '"+n+"'\n"))
		if n == "broken" {
			code = writeDir(t, f("other.py", 0o644, "x = 1\n"))
		}
		ts = append(ts, Target{Name: n, Publisher: publish.Layout(out, "localhost/"+n+":latest"), Spec: Spec{
			Base: "oci:../testdata/base:latest", Runtime: "python3.12", Arch: "x86_64", Handler: "app.handler",
			Layers: []Source{{Path: shared}}, Code: Source{Path: code}, Created: fixedTime,
		}})
	}
	return ts
}

func TestPublishFleetSharesWork(t *testing.T) {
	ts := fleet(t, "a", "b", "c", "d")
	shared := NewShared()
	defer shared.Close()
	var mu sync.Mutex
	var msgs []string
	res, err := PublishFleet(context.Background(), ts, FleetOptions{Jobs: 4, Options: Options{Shared: shared, Events: func(e Event) {
		mu.Lock()
		msgs = append(msgs, e.Message)
		mu.Unlock()
	}}})
	require.NoError(t, err)
	require.Len(t, res, 4)
	st := shared.Stats()
	assert.Equal(t, int64(1), st.BaseFetches)
	assert.Equal(t, int64(5), st.Conversions, "the shared zip once, four codes")
	assert.Equal(t, int64(2), st.BaseLayerMeasures, "the committed base's two layers, once each")
	var fetches []string
	for _, m := range msgs {
		if strings.HasSuffix(m, ": fetching base oci:../testdata/base:latest") {
			fetches = append(fetches, m)
		}
	}
	require.Len(t, fetches, 1, "one fetch, named after the function that made it: %q", msgs)
	assert.Regexp(t, `^[abcd]: `, fetches[0])

	// Each function is the image a lone Build makes.
	for i, r := range res {
		require.NoError(t, r.Err)
		alone, err := Build(context.Background(), ts[i].Spec, Options{})
		require.NoError(t, err)
		assert.Equal(t, alone.Digest, r.Result.Digest, r.Name)
		require.NoError(t, alone.Close())
	}
}

func TestPublishFleetFailures(t *testing.T) {
	t.Run("a broken function fails alone", func(t *testing.T) {
		res, err := PublishFleet(context.Background(), fleet(t, "broken", "a", "b"), FleetOptions{Jobs: 1})
		var fe *FleetError
		require.ErrorAs(t, err, &fe)
		require.Len(t, fe.Failed, 1)
		assert.Equal(t, "broken", fe.Failed[0].Name)
		var ce *checks.Error
		assert.ErrorAs(t, err, &ce, "the cause stays inspectable")
		assert.ErrorContains(t, err, "1 of 3 functions failed: broken:")
		assert.NoError(t, res[1].Err)
		assert.NoError(t, res[2].Err)
		assert.NotNil(t, res[2].Result)
	})
	t.Run("fail fast stops the rest", func(t *testing.T) {
		res, err := PublishFleet(context.Background(), fleet(t, "broken", "a", "b"), FleetOptions{Jobs: 1, FailFast: true})
		require.Error(t, err)
		assert.ErrorAs(t, res[0].Err, new(*checks.Error))
		assert.ErrorIs(t, res[1].Err, ErrStopped)
		assert.ErrorIs(t, res[2].Err, ErrStopped)
	})
	t.Run("a function named twice", func(t *testing.T) {
		_, err := PublishFleet(context.Background(), fleet(t, "a", "a"), FleetOptions{})
		assert.ErrorContains(t, err, `function "a" given twice`)
	})
}

func TestMemoKeepsResultsButNotCancellations(t *testing.T) {
	var m memo[string, int]
	calls := 0
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	_, err := m.do(ctx, "k", func() (int, error) { calls++; return 0, ctx.Err() })
	require.ErrorIs(t, err, context.Canceled)
	for range 3 {
		v, err := m.do(context.Background(), "k", func() (int, error) { calls++; return 7, nil })
		require.NoError(t, err)
		assert.Equal(t, 7, v)
	}
	assert.Equal(t, 2, calls, "the cancelled call is not kept; the good one is, once")
}
