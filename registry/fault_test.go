package registry

import (
	"context"
	"encoding/json"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/faultproxy"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// TestPushFaults pushes through a proxy that injects failures in front of a
// real docker-registry. Transient trouble is ridden out by retries;
// persistent or non-retryable trouble fails with a clear error; and after
// every scenario the registry holds no manifest whose blobs are missing.
func TestPushFaults(t *testing.T) {
	const blobs = 3 // two layers + config
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
		{name: "stall mid-upload", faults: []faultproxy.Fault{
			{Kind: faultproxy.Stall, Method: "PATCH", Times: 1, StallFor: 10 * time.Second}}, wantHits: 1},
		{name: "503 never ends", retries: 2, wantErr: "503", faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 503, Method: "PATCH"}}},
		{name: "manifest put keeps resetting", retries: 2, wantErr: "manifest", faults: []faultproxy.Fault{
			{Kind: faultproxy.Reset, Method: "PUT", PathContains: "/manifests/"}}},
		{name: "400 is not retried", retries: 5, wantErr: "400", noRetries: true, faults: []faultproxy.Fault{
			{Kind: faultproxy.Status, Status: 400, Method: "POST", PathContains: "/blobs/uploads"}}},
	}
	reg := testregistry.Start(t, testregistry.Options{})
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := faultproxy.Start(t, reg.URL(), http.DefaultTransport)
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
				assertManifestAt(t, reg, repo, img)
			} else {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), repo, "error names the repository")
				assert.Empty(t, manifestsIn(t, reg, repo), "no manifest after a failed push")
				if tt.noRetries {
					assert.Equal(t, 1, p.Hits(), "a non-retryable failure is not retried")
				} else {
					assert.GreaterOrEqual(t, p.Hits(), tt.retries+1)
				}
			}
			assertRegistryConsistent(t, reg)
		})
	}
	_ = blobs
}

// manifestsIn lists the manifest digests docker-registry stores for repo
// (tagged or not), from its storage directory.
func manifestsIn(t *testing.T, reg *testregistry.Server, repo string) []string {
	t.Helper()
	dir := filepath.Join(reg.RootDir, "docker/registry/v2/repositories", repo, "_manifests/revisions/sha256")
	ents, err := os.ReadDir(dir)
	if os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var out []string
	for _, e := range ents {
		out = append(out, "sha256:"+e.Name())
	}
	return out
}

func assertManifestAt(t *testing.T, reg *testregistry.Server, repo string, img v1.Image) {
	t.Helper()
	d, err := img.Digest()
	require.NoError(t, err)
	assert.Contains(t, manifestsIn(t, reg, repo), d.String())
}

// assertRegistryConsistent reads every manifest of every repository back
// and HEADs each blob it names.
func assertRegistryConsistent(t *testing.T, reg *testregistry.Server) {
	t.Helper()
	root := filepath.Join(reg.RootDir, "docker/registry/v2/repositories")
	c := reg.Client()
	err := filepath.WalkDir(root, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.Name() != "revisions" {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		repo := strings.TrimSuffix(filepath.ToSlash(rel), "/_manifests/revisions")
		for _, m := range manifestsIn(t, reg, repo) {
			req, _ := http.NewRequest(http.MethodGet, reg.URL()+"/v2/"+repo+"/manifests/"+m, nil)
			req.Header.Set("Accept", "application/vnd.docker.distribution.manifest.v2+json, application/vnd.oci.image.manifest.v1+json")
			resp, err := c.Do(req)
			require.NoError(t, err)
			var mf v1.Manifest
			require.NoError(t, json.NewDecoder(resp.Body).Decode(&mf))
			resp.Body.Close()
			require.Equal(t, http.StatusOK, resp.StatusCode, "manifest %s/%s", repo, m)
			for _, b := range append([]v1.Descriptor{mf.Config}, mf.Layers...) {
				hr, err := c.Head(reg.URL() + "/v2/" + repo + "/blobs/" + b.Digest.String())
				require.NoError(t, err)
				hr.Body.Close()
				assert.Equal(t, http.StatusOK, hr.StatusCode, "manifest %s@%s names missing blob %s", repo, m, b.Digest)
			}
		}
		return filepath.SkipDir
	})
	require.NoError(t, err)
}
