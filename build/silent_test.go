package build

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/publish"
)

// The library prints nothing: a whole build and publish, with a warning to
// report (a reserved env name) and a cache to fill, leaves the process's
// stdout and stderr untouched; what it has to say goes to Events.
func TestBuildIsSilent(t *testing.T) {
	spec := Spec{
		Base: "oci:../testdata/base:latest", Arch: "x86_64",
		Layers:  []Source{{Path: "../testdata/demo/layer.zip"}},
		Code:    Source{Path: "../testdata/demo/code"},
		Handler: "app.handler", Env: []string{"AWS_REGION=x"}, Created: fixedTime,
	}
	out := filepath.Join(t.TempDir(), "layout")

	stdout, stderr := os.Stdout, os.Stderr
	rOut, wOut, err := os.Pipe()
	require.NoError(t, err)
	rErr, wErr, err := os.Pipe()
	require.NoError(t, err)
	os.Stdout, os.Stderr = wOut, wErr
	var events []Event
	res, _, berr := Publish(context.Background(), spec, publish.Layout(out, "localhost/fn:1"),
		Options{CacheDir: t.TempDir(), Events: func(e Event) { events = append(events, e) }})
	os.Stdout, os.Stderr = stdout, stderr
	require.NoError(t, wOut.Close())
	require.NoError(t, wErr.Close())
	printed, err := io.ReadAll(rOut)
	require.NoError(t, err)
	logged, err := io.ReadAll(rErr)
	require.NoError(t, err)

	require.NoError(t, berr)
	assert.Empty(t, string(printed), "nothing on stdout")
	assert.Empty(t, string(logged), "nothing on stderr")
	require.NotEmpty(t, res.Warnings)
	var warned bool
	for _, e := range events {
		warned = warned || e.Kind == Warning
	}
	assert.True(t, warned, "the warning went to Events instead")
}
