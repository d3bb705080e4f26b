package registry

import (
	"context"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/validate"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"golang.org/x/sync/errgroup"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// progressLog records progress events (the Uploader sends one at a time).
type progressLog struct {
	mu     sync.Mutex
	events []ProgressEvent
}

func (p *progressLog) record(e ProgressEvent) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.events = append(p.events, e)
}

// terminal counts each blob's final events (pushed, exists, mounted, failed).
func (p *progressLog) terminal() map[string][]ProgressStatus {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := map[string][]ProgressStatus{}
	for _, e := range p.events {
		switch e.Status {
		case ProgressPushed, ProgressExists, ProgressMounted, ProgressFailed:
			out[e.Digest.String()] = append(out[e.Digest.String()], e.Status)
		}
	}
	return out
}

func uploadAll(t *testing.T, u *Uploader, ls []v1.Layer) {
	t.Helper()
	var g errgroup.Group
	for _, l := range ls {
		g.Go(func() error { return u.Upload(context.Background(), l) })
	}
	require.NoError(t, g.Wait())
}

// Blobs uploaded ahead of the image are not uploaded again by Push, which
// then only puts the config, the manifest and the tags; until then the
// repository holds blobs but no manifest and no tag. Each blob has one
// final progress event, and PushResult.Layers tells what the early upload
// did.
func TestUploaderThenPush(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	img := withCode(t, testImage(t, 3))
	layers, err := img.Layers()
	require.NoError(t, err)
	var prog progressLog
	u, err := NewUploader([]string{reg.Host + "/fn:v1", reg.Host + "/fn:latest"}, Options{Progress: prog.record})
	require.NoError(t, err)

	uploadAll(t, u, layers)
	early := reg.Requests(t)
	for _, l := range layers {
		hex := must(l.Digest()).Hex
		assert.Equal(t, 1, countRequests(early, "PUT", hex), "one commit per blob")
	}
	all := reg.Requests(t)
	assert.Zero(t, countRequests(all, "PUT", "/manifests/"), "no manifest before Push")
	_, err = remote.Head(must(name.ParseReference(reg.Host + "/fn:v1")))
	assert.Error(t, err, "no tag before Push")

	res, err := u.Push(context.Background(), img)
	require.NoError(t, err)
	after := reg.Requests(t)[len(all):]
	for _, l := range layers {
		d := must(l.Digest()).String()
		for _, r := range after {
			assert.NotContains(t, r.Path, d, "Push sends nothing about a blob Upload uploaded: %s %s", r.Method, r.Path)
		}
	}
	assert.Equal(t, 1, countRequests(after, "PUT", "/blobs/uploads/"), "Push uploads the config only")
	assert.Equal(t, map[string]int{StatusPushed: 5}, statuses(res))
	for d, st := range prog.terminal() {
		assert.Equal(t, []ProgressStatus{ProgressPushed}, st, "one final event for %s", d)
	}
	assert.Len(t, prog.terminal(), 5)

	got, err := remote.Image(must(name.ParseReference(reg.Host + "/fn:latest")))
	require.NoError(t, err)
	assert.Equal(t, digestOf(t, img), digestOf(t, got))
	assert.NoError(t, validate.Image(got))
}

func countRequests(rs []testregistry.Request, method, pathHas string) int {
	n := 0
	for _, r := range rs {
		if r.Method == method && strings.Contains(r.Path, pathHas) {
			n++
		}
	}
	return n
}

// wrapped is a layer decorating another, as build's tee does.
type wrapped struct{ v1.Layer }

func (w wrapped) Unwrap() v1.Layer { return w.Layer }

// An early upload reports what happened to the blob: found in the target,
// mounted from the repository a remote layer came from (also through a
// wrapper that unwraps to it), or pushed.
func TestUploaderStatus(t *testing.T) {
	reg := testregistry.Start(t, testregistry.Options{})
	ctx := context.Background()
	base := testImage(t, 1)
	_, err := Push(ctx, base, []string{reg.Host + "/base:1"}, Options{})
	require.NoError(t, err)
	remoteBase, err := remote.Image(must(name.ParseReference(reg.Host + "/base:1")))
	require.NoError(t, err)
	rl := must(remoteBase.Layers())[0]
	_, isRemote := rl.(*remote.MountableLayer)
	require.True(t, isRemote, "a remote image's layers carry their reference")

	for _, tc := range []struct {
		name  string
		repo  string
		layer v1.Layer
		want  string
	}{
		{"new blob", "fresh", must(testImage(t, 1).Layers())[0], StatusPushed},
		{"already there", "base", rl, StatusExists},
		{"remote layer, same registry", "mount1", rl, StatusMounted},
		{"wrapped remote layer", "mount2", wrapped{rl}, StatusMounted},
	} {
		t.Run(tc.name, func(t *testing.T) {
			u, err := NewUploader([]string{reg.Host + "/" + tc.repo + ":v1"}, Options{})
			require.NoError(t, err)
			require.NoError(t, u.Upload(ctx, tc.layer))
			d := must(tc.layer.Digest())
			assert.Equal(t, tc.want, u.obs.status(tc.repo, d.String()))
		})
	}
}

// The ECR repository is created before the first early upload, once,
// however many uploads start together: the stand-in ECR answers blob
// requests for a missing repository NAME_UNKNOWN, as ECR does.
func TestUploaderCreatesECRRepositoryFirst(t *testing.T) {
	e := startECR(t)
	opts := e.opts
	opts.CreateRepository = true
	img := withCode(t, testImage(t, 4))
	u, err := NewUploader([]string{e.fake.Host + "/made/fn:v1"}, opts)
	require.NoError(t, err)
	uploadAll(t, u, must(img.Layers()))
	assert.True(t, e.fake.HasRepository("made/fn"))
	creates := 0
	for _, c := range e.fake.Calls() {
		if c == "CreateRepository" {
			creates++
		}
	}
	assert.Equal(t, 1, creates, "%v", e.fake.Calls())
	res, err := u.Push(context.Background(), img)
	require.NoError(t, err)
	assert.Len(t, res.References, 1)
}

// An early upload the caller cancels returns the cancellation and reports
// no failed blob: the registry did not fail.
func TestUploaderCancelled(t *testing.T) {
	host := startInProcess(t)
	var prog progressLog
	u, err := NewUploader([]string{host + "/fn:v1"}, Options{Progress: prog.record})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err = u.Upload(ctx, must(testImage(t, 1).Layers())[0])
	assert.ErrorIs(t, err, context.Canceled)
	for _, st := range prog.terminal() {
		assert.NotContains(t, st, ProgressFailed)
	}
}
