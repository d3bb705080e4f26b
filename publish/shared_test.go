package publish

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// ociImage is a random image with OCI media types throughout (Debian's
// skopeo and umoci read only those from a layout), sharing base with every
// other image built on the same base.
func ociImage(t testing.TB, base v1.Image, layers int) v1.Image {
	t.Helper()
	img := base
	if img == nil {
		img = mutate.ConfigMediaType(mutate.MediaType(empty.Image, types.OCIManifestSchema1), types.OCIConfigJSON)
	}
	for range layers {
		l, err := random.Layer(256, types.OCILayer)
		require.NoError(t, err)
		img, err = mutate.AppendLayers(img, l)
		require.NoError(t, err)
	}
	return img
}

// blobsOf lists the blob digests an image consists of.
func blobsOf(t testing.TB, img v1.Image) []string {
	t.Helper()
	var out []string
	d, err := img.Digest()
	require.NoError(t, err)
	out = append(out, d.Hex)
	c, err := img.ConfigName()
	require.NoError(t, err)
	out = append(out, c.Hex)
	ls, err := img.Layers()
	require.NoError(t, err)
	for _, l := range ls {
		ld, err := l.Digest()
		require.NoError(t, err)
		out = append(out, ld.Hex)
	}
	return out
}

func assertImageIn(t testing.TB, dir, name string, img v1.Image) {
	t.Helper()
	got := imageAt(t.(*testing.T), dir, name)
	assert.Equal(t, digestOf(t.(*testing.T), img), digestOf(t.(*testing.T), got), name)
	assert.NoError(t, validate.Image(got), name)
}

// Defect 1 of issue 16: a failing build's undo restored its old copy of
// index.json and removed every blob added since, so an image another run
// added meanwhile was lost although that run succeeded.
func TestLayoutUndoKeepsOthersImages(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		name     string
		existing bool // the layout exists before either run
	}{
		{name: "existing layout", existing: true},
		{name: "layout created by the run that fails"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), "out")
			base := ociImage(t, nil, 1)
			if tc.existing {
				_, err := Layout(dir, "example.com/fn:old").Publish(ctx, base)
				require.NoError(t, err)
			}
			imgB := ociImage(t, base, 1)
			imgA := ociImage(t, base, 1)
			b, err := Layout(dir, "example.com/fn:b").Publish(ctx, imgB)
			require.NoError(t, err)
			_, err = Layout(dir, "example.com/fn:a").Publish(ctx, imgA)
			require.NoError(t, err)

			require.NoError(t, b.Undo())

			assertImageIn(t, dir, "example.com/fn:a", imgA)
			want := map[string]int{"example.com/fn:a": 1}
			if tc.existing {
				want["example.com/fn:old"] = 1
				assertImageIn(t, dir, "example.com/fn:old", base)
			}
			assert.Equal(t, want, entryNames(t, dir))
			// B's own manifest, config and layer are gone; what A uses stays.
			for _, h := range blobsOf(t, imgB)[:2] {
				assert.NoFileExists(t, filepath.Join(dir, "blobs", "sha256", h))
			}
			ls, _ := imgB.Layers()
			ld, _ := ls[len(ls)-1].Digest()
			assert.NoFileExists(t, filepath.Join(dir, "blobs", "sha256", ld.Hex))
			validateLayout(t, dir)
		})
	}
}

// Defect 2 of issue 16: concurrent writers to one layout lost entries
// (each rewrote index.json from what it had read) or failed spuriously.
func TestLayoutConcurrentWritersKeepEveryEntry(t *testing.T) {
	ctx := context.Background()
	base := ociImage(t, nil, 1)
	const writers = 8
	imgs := make([]v1.Image, writers)
	for i := range imgs {
		imgs[i] = ociImage(t, base, 1)
	}
	for round := range 5 {
		dir := filepath.Join(t.TempDir(), "out")
		if round%2 == 1 {
			_, err := Layout(dir, "example.com/fn:base").Publish(ctx, base)
			require.NoError(t, err)
		}
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				_, errs[i] = Layout(dir, fmt.Sprintf("example.com/fn:%d", i)).Publish(ctx, imgs[i])
			})
		}
		wg.Wait()
		for i, err := range errs {
			require.NoError(t, err, "round %d writer %d", round, i)
		}
		names := entryNames(t, dir)
		for i := range writers {
			assert.Equal(t, 1, names[fmt.Sprintf("example.com/fn:%d", i)], "round %d: entry %d", round, i)
		}
		validateLayout(t, dir)
	}
}

// failing is a destination that always fails, to make a Multi undo the
// parts before it.
type failing struct{}

func (failing) String() string       { return "failing" }
func (failing) Check([]string) error { return nil }
func (failing) Publish(context.Context, v1.Image) (*Publication, error) {
	return nil, errors.New("refused")
}

// Issue 16's acceptance: 8 parallel publishes into one layout plus one
// that fails after writing its layout part, 20 rounds: every successful
// image present and valid (go-containerregistry and skopeo read each), the
// failed one gone, no failure caused by the others.
func TestLayoutSharedByParallelPublishes(t *testing.T) {
	if testing.Short() {
		t.Skip("20 rounds of parallel publishes")
	}
	ctx := context.Background()
	base := ociImage(t, nil, 2)
	const writers, rounds = 8, 20
	imgs := make([]v1.Image, writers)
	for i := range imgs {
		imgs[i] = ociImage(t, base, 2)
	}
	bad := ociImage(t, base, 2)
	dir := filepath.Join(t.TempDir(), "shared")
	for round := range rounds {
		var wg sync.WaitGroup
		errs := make([]error, writers)
		for i := range writers {
			wg.Go(func() {
				// The same names every round: each replaces its own entry.
				_, errs[i] = Layout(dir, fmt.Sprintf("example.com/fn:%d", i)).Publish(ctx, imgs[i])
			})
		}
		var badErr error
		wg.Go(func() {
			_, badErr = Multi(Layout(dir, "example.com/fn:bad"), failing{}).Publish(ctx, bad)
		})
		wg.Wait()
		require.ErrorContains(t, badErr, "refused")
		for i, err := range errs {
			require.NoError(t, err, "round %d writer %d", round, i)
		}
		names := entryNames(t, dir)
		require.Len(t, names, writers, "round %d: %v", round, names)
		for i := range writers {
			assertImageIn(t, dir, fmt.Sprintf("example.com/fn:%d", i), imgs[i])
		}
		validateLayout(t, dir)
	}
	// bad's own blobs are gone: its manifest, config and last two layers.
	for _, h := range blobsOf(t, bad)[:2] {
		assert.NoFileExists(t, filepath.Join(dir, "blobs", "sha256", h))
	}
	assertNoTemp(t, filepath.Dir(dir))
	assertNoTemp(t, filepath.Join(dir, "blobs", "sha256"))

	testregistry.RequireTool(t, "skopeo")
	for i := range writers {
		n := fmt.Sprintf("example.com/fn:%d", i)
		out, err := exec.Command("skopeo", "inspect", "--raw", "oci:"+dir+":"+n).CombinedOutput()
		require.NoError(t, err, "skopeo inspect %s: %s", n, out)
		m, err := imgs[i].RawManifest()
		require.NoError(t, err)
		assert.JSONEq(t, string(m), string(out), n)
	}
}
