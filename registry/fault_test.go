package registry

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	gcrregistry "github.com/google/go-containerregistry/pkg/registry"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/faultproxy"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// manifestRef is one manifest a registry holds.
type manifestRef struct{ repo, digest string }

// backend is a registry the fault scenarios run against, with a way to
// list every manifest it holds (tagged or not) without trusting our code.
type backend struct {
	url       string
	client    *http.Client
	manifests func(t *testing.T) []manifestRef
}

func (b backend) manifestsIn(t *testing.T, repo string) []string {
	var out []string
	for _, m := range b.manifests(t) {
		if m.repo == repo {
			out = append(out, m.digest)
		}
	}
	return out
}

// dockerRegistryBackend is Debian's docker-registry. It refuses a manifest
// naming a blob it does not hold, so against it alone the consistency check
// could never fail; its manifests are read from its storage directory.
func dockerRegistryBackend(t *testing.T) backend {
	reg := testregistry.Start(t, testregistry.Options{})
	return backend{url: reg.URL(), client: reg.Client(), manifests: func(t *testing.T) []manifestRef {
		t.Helper()
		root := filepath.Join(reg.RootDir, "docker/registry/v2/repositories")
		var out []manifestRef
		err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
			if os.IsNotExist(err) {
				return filepath.SkipAll
			}
			if err != nil || d.Name() != "revisions" {
				return err
			}
			rel, _ := filepath.Rel(root, path)
			repo := strings.TrimSuffix(filepath.ToSlash(rel), "/_manifests/revisions")
			ents, err := os.ReadDir(filepath.Join(path, "sha256"))
			if err != nil && !os.IsNotExist(err) {
				return err
			}
			for _, e := range ents {
				out = append(out, manifestRef{repo, "sha256:" + e.Name()})
			}
			return filepath.SkipDir
		})
		require.NoError(t, err)
		return out
	}}
}

// inProcessBackend is go-containerregistry's pkg/registry, which stores a
// manifest without checking its blobs (pkg/registry/manifest.go, PUT: only
// an index's child manifests are checked). Against it a manifest put
// before its blobs would stay, so the consistency check is really about
// our push order. It has no listing of untagged manifests, so every
// accepted manifest PUT is recorded on the way in.
func inProcessBackend(t *testing.T) backend {
	var mu sync.Mutex
	var seen []manifestRef
	h := gcrregistry.New(gcrregistry.Logger(discardLog()))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rw := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rw, r)
		// /v2/<repo>/manifests/<ref>
		p := strings.TrimPrefix(r.URL.Path, "/v2/")
		i := strings.LastIndex(p, "/manifests/")
		if r.Method != http.MethodPut || i < 0 || rw.status != http.StatusCreated {
			return
		}
		mu.Lock()
		seen = append(seen, manifestRef{p[:i], rw.Header().Get("Docker-Content-Digest")})
		mu.Unlock()
	}))
	t.Cleanup(srv.Close)
	return backend{url: srv.URL, client: srv.Client(), manifests: func(*testing.T) []manifestRef {
		mu.Lock()
		defer mu.Unlock()
		return append([]manifestRef(nil), seen...)
	}}
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (s *statusRecorder) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func (s *statusRecorder) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// TestPushFaults pushes through a proxy that injects failures, in front of
// a real docker-registry and of the in-process pkg/registry (which, unlike
// docker-registry, would accept a manifest whose blobs are missing).
// Transient trouble is ridden out by retries; persistent or non-retryable
// trouble fails with a clear error; and after every scenario the registry
// holds no manifest whose blobs are missing.
func TestPushFaults(t *testing.T) {
	tests := []struct {
		name      string
		faults    []faultproxy.Fault
		retries   int
		wantErr   string
		wantHits  int // exact number of faulted requests; 0: just "some"
		noRetries bool
	}{
		{name: "503 on blob upload", faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 503, Method: "PATCH", Times: 2}}, wantHits: 2},
		{name: "429 on manifest", faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 429, Method: "PUT", PathContains: "/manifests/", Times: 2}}, wantHits: 2},
		{name: "503 on existence check", faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 503, Method: "HEAD", PathContains: "/blobs/", Times: 2}}, wantHits: 2},
		{name: "reset mid-upload", faults: []faultproxy.Fault{
			{Kind: faultproxy.Reset, Method: "PATCH", ResetAfter: 4096, Times: 2}}, wantHits: 2},
		{name: "reset after the registry got part of the blob", faults: []faultproxy.Fault{
			{Kind: faultproxy.Reset, Method: "PATCH", ResetAfter: 64 << 10, Forward: true, Times: 2}}, wantHits: 2},
		{name: "reset on the manifest after the registry got it", faults: []faultproxy.Fault{
			{Kind: faultproxy.Reset, Method: "PUT", PathContains: "/manifests/", ResetAfter: 1 << 20, Forward: true, Times: 1}}, wantHits: 1},
		{name: "stall mid-upload", faults: []faultproxy.Fault{
			{Kind: faultproxy.Stall, Method: "PATCH", Times: 1, StallFor: 10 * time.Second}}, wantHits: 1},
		{name: "503 never ends", retries: 2, wantErr: "503", faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 503, Method: "PATCH"}}},
		{name: "blob commit keeps failing", retries: 2, wantErr: "503", faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 503, Method: "PUT", PathContains: "/blobs/uploads"}}},
		{name: "manifest put keeps resetting", retries: 2, wantErr: "manifest", faults: []faultproxy.Fault{
			{Kind: faultproxy.Reset, Method: "PUT", PathContains: "/manifests/"}}},
		{name: "400 is not retried", retries: 5, wantErr: "400", noRetries: true, faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 400, Method: "POST", PathContains: "/blobs/uploads"}}},
	}
	for _, bk := range []struct {
		name  string
		start func(t *testing.T) backend
	}{
		{"docker-registry", dockerRegistryBackend},
		{"pkg-registry", inProcessBackend},
	} {
		t.Run(bk.name, func(t *testing.T) {
			reg := bk.start(t)
			for i, tt := range tests {
				t.Run(tt.name, func(t *testing.T) {
					p := faultproxy.Start(t, reg.url, http.DefaultTransport)
					for _, f := range tt.faults {
						p.Add(f)
					}
					img, err := random.Image(256<<10, 2)
					require.NoError(t, err)
					repo := "fault" + string(rune('a'+i))
					opts := Options{Jobs: 1, Retries: tt.retries, RetryBaseDelay: 5 * time.Millisecond, StallTimeout: 300 * time.Millisecond}
					_, err = Push(context.Background(), img, []string{p.Host + "/" + repo + ":v1"}, opts)
					if tt.wantErr == "" {
						require.NoError(t, err)
						if tt.wantHits > 0 {
							assert.Equal(t, tt.wantHits, p.Hits())
						}
						assert.Contains(t, reg.manifestsIn(t, repo), digestOf(t, img).String())
					} else {
						require.Error(t, err)
						assert.Contains(t, err.Error(), tt.wantErr)
						assert.Contains(t, err.Error(), repo, "error names the repository")
						assert.Empty(t, reg.manifestsIn(t, repo), "no manifest after a failed push")
						if tt.noRetries {
							assert.Equal(t, 1, p.Hits(), "a non-retryable failure is not retried")
						} else {
							assert.GreaterOrEqual(t, p.Hits(), tt.retries+1)
						}
					}
					assert.Empty(t, consistencyProblems(t, reg), "every manifest's blobs are in the registry")
				})
			}
		})
	}
}

// consistencyProblems reads every manifest the registry holds back and
// HEADs each blob it names, returning one line per missing piece.
func consistencyProblems(t *testing.T, reg backend) []string {
	t.Helper()
	var problems []string
	for _, m := range reg.manifests(t) {
		req, err := http.NewRequest(http.MethodGet, reg.url+"/v2/"+m.repo+"/manifests/"+m.digest, nil)
		require.NoError(t, err)
		req.Header.Set("Accept", string(types.DockerManifestSchema2)+", "+string(types.OCIManifestSchema1))
		resp, err := reg.client.Do(req)
		require.NoError(t, err)
		var mf v1.Manifest
		derr := json.NewDecoder(resp.Body).Decode(&mf)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || derr != nil {
			problems = append(problems, fmt.Sprintf("manifest %s@%s: HTTP %d, %v", m.repo, m.digest, resp.StatusCode, derr))
			continue
		}
		for _, b := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
			hr, err := reg.client.Head(reg.url + "/v2/" + m.repo + "/blobs/" + b.Digest.String())
			require.NoError(t, err)
			hr.Body.Close()
			if hr.StatusCode != http.StatusOK {
				problems = append(problems, fmt.Sprintf("manifest %s@%s names missing blob %s (HTTP %d)", m.repo, m.digest, b.Digest, hr.StatusCode))
			}
		}
	}
	sort.Strings(problems)
	return problems
}

// The control for the scenarios above: a manifest put without its layer
// blob is caught by consistencyProblems. pkg/registry accepts such a
// manifest (so the check there guards our push order); docker-registry
// refuses it outright (so the check there alone could never fail).
func TestConsistencyCheckDetectsMissingBlob(t *testing.T) {
	img, err := random.Image(1024, 1)
	require.NoError(t, err)
	layers, err := img.Layers()
	require.NoError(t, err)
	missing, err := layers[0].Digest()
	require.NoError(t, err)
	rawMf, err := img.RawManifest()
	require.NoError(t, err)
	mt, err := img.MediaType()
	require.NoError(t, err)
	cfgName, err := img.ConfigName()
	require.NoError(t, err)
	rawCfg, err := img.RawConfigFile()
	require.NoError(t, err)

	// Upload only the config (monolithic POST+PUT), then the manifest.
	putWithoutLayer := func(t *testing.T, reg backend, repo string) int {
		resp, err := reg.client.Post(reg.url+"/v2/"+repo+"/blobs/uploads/", "", nil)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusAccepted, resp.StatusCode)
		loc, err := resp.Location()
		require.NoError(t, err)
		q := loc.Query()
		q.Set("digest", cfgName.String())
		loc.RawQuery = q.Encode()
		req, err := http.NewRequest(http.MethodPut, loc.String(), bytes.NewReader(rawCfg))
		require.NoError(t, err)
		resp, err = reg.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		require.Equal(t, http.StatusCreated, resp.StatusCode, "config blob upload")

		req, err = http.NewRequest(http.MethodPut, reg.url+"/v2/"+repo+"/manifests/v1", bytes.NewReader(rawMf))
		require.NoError(t, err)
		req.Header.Set("Content-Type", string(mt))
		resp, err = reg.client.Do(req)
		require.NoError(t, err)
		resp.Body.Close()
		return resp.StatusCode
	}

	t.Run("pkg-registry accepts it and the check catches it", func(t *testing.T) {
		reg := inProcessBackend(t)
		good, err := random.Image(1024, 2)
		require.NoError(t, err)
		_, err = Push(context.Background(), good, []string{strings.TrimPrefix(reg.url, "http://") + "/good:v1"}, Options{})
		require.NoError(t, err)
		require.Empty(t, consistencyProblems(t, reg), "a complete push is consistent")

		require.Equal(t, http.StatusCreated, putWithoutLayer(t, reg, "broken"))
		problems := consistencyProblems(t, reg)
		require.Len(t, problems, 1, "%v", problems)
		assert.Contains(t, problems[0], "broken@"+digestOf(t, img).String())
		assert.Contains(t, problems[0], "missing blob "+missing.String())
	})
	t.Run("docker-registry refuses it", func(t *testing.T) {
		reg := dockerRegistryBackend(t)
		status := putWithoutLayer(t, reg, "broken")
		assert.Equal(t, http.StatusBadRequest, status, "docker-registry validates manifest blobs itself")
		assert.Empty(t, consistencyProblems(t, reg))
	})
}
