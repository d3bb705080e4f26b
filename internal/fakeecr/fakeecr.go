// Package fakeecr is a stand-in for Amazon ECR in tests, on loopback:
//
//   - an httptest server speaking ECR's JSON 1.1 API (GetAuthorizationToken,
//     DescribeRepositories, CreateRepository), reached through the SDK's
//     endpoint setting (AWS_ENDPOINT_URL_ECR, see Server.Env), which checks
//     every request's SigV4 signature against the test credentials and can be
//     told to fail the way AWS does (expired token, access denied, ...);
//   - a registry front: a reverse proxy in front of a real registry (Debian's
//     docker-registry via internal/testregistry) adding the ECR behaviour a
//     plain registry lacks: NAME_UNKNOWN for repositories that were not
//     created, and immutable tags.
//
// The token GetAuthorizationToken returns is base64("AWS:"+Password), so it
// opens the real registry when that runs htpasswd with user AWS and the
// same password.
package fakeecr

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-oci/lambda-oci/internal/sigv4check"
)

// Test credentials the stand-in accepts (never real).
const (
	AccessKeyID     = "AKIDFAKEECRTEST00001"
	SecretAccessKey = "fakeecr-secret-key-for-tests-only"
	Account         = "123456789012"
)

// Options configure the stand-in.
type Options struct {
	// Upstream is the real registry's base URL (https://127.0.0.1:PORT).
	Upstream string
	// UpstreamTransport reaches Upstream (trusting its CA).
	UpstreamTransport http.RoundTripper
	// Password is what the token carries for user AWS (the registry's
	// htpasswd password; keep it under 72 bytes, bcrypt's limit).
	Password string
	// Region the API claims (default us-east-1).
	Region string
}

// Failure makes an API operation fail like AWS: HTTP status, error type
// (__type) and message.
type Failure struct {
	Status  int
	Type    string
	Message string
}

// Canned AWS failures.
var (
	ExpiredToken = Failure{http.StatusForbidden, "ExpiredTokenException", "The security token included in the request is expired"}
	AccessDenied = func(action string) Failure {
		return Failure{http.StatusBadRequest, "AccessDeniedException", fmt.Sprintf(
			"User: arn:aws:iam::%s:user/ci is not authorized to perform: ecr:%s on resource: * because no identity-based policy allows the ecr:%s action",
			Account, action, action)}
	}
)

// Request is one request seen by the registry front.
type Request struct {
	Method, Path string
	Status       int
}

// Server is a running stand-in.
type Server struct {
	// API is the ECR API endpoint; Registry is the registry front.
	API, Registry *httptest.Server
	// Host is the registry front's host:port, for image references.
	Host string

	opts     Options
	upstream *url.URL

	mu       sync.Mutex
	repos    map[string]*repo
	failures map[string]Failure
	calls    []string
	requests []Request
	badSigs  int
}

type repo struct{ immutable bool }

// Start runs both servers until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.Region == "" {
		opts.Region = "us-east-1"
	}
	u, err := url.Parse(opts.Upstream)
	if err != nil || u.Host == "" {
		t.Fatalf("fakeecr: upstream %q: %v", opts.Upstream, err)
	}
	s := &Server{opts: opts, upstream: u, repos: map[string]*repo{}, failures: map[string]Failure{}}
	s.API = httptest.NewServer(http.HandlerFunc(s.serveAPI))
	t.Cleanup(s.API.Close)
	s.Registry = httptest.NewServer(s.registryFront())
	t.Cleanup(s.Registry.Close)
	s.Host = strings.TrimPrefix(s.Registry.URL, "http://")
	return s
}

// Env is the environment a client needs to reach the API with the test
// credentials and nothing else from the machine (no shared config, no
// instance metadata).
func (s *Server) Env() map[string]string {
	return map[string]string{
		"AWS_ACCESS_KEY_ID":           AccessKeyID,
		"AWS_SECRET_ACCESS_KEY":       SecretAccessKey,
		"AWS_SESSION_TOKEN":           "",
		"AWS_REGION":                  s.opts.Region,
		"AWS_ENDPOINT_URL_ECR":        s.API.URL,
		"AWS_ENDPOINT_URL_ECR_PUBLIC": s.API.URL,
		"AWS_CONFIG_FILE":             "/nonexistent/fakeecr/config",
		"AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/fakeecr/credentials",
		"AWS_EC2_METADATA_DISABLED":   "true",
		"AWS_PROFILE":                 "",
	}
}

// Setenv applies Env for the rest of the test.
func (s *Server) Setenv(t testing.TB) {
	t.Helper()
	for k, v := range s.Env() {
		t.Setenv(k, v)
	}
}

// CreateRepository adds a repository, as if created beforehand.
func (s *Server) CreateRepository(name string, immutable bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.repos[name] = &repo{immutable: immutable}
}

// HasRepository reports whether name exists.
func (s *Server) HasRepository(name string) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	_, ok := s.repos[name]
	return ok
}

// Fail makes op (e.g. "GetAuthorizationToken", "public.GetAuthorizationToken")
// fail until Clear.
func (s *Server) Fail(op string, f Failure) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures[op] = f
}

// Clear removes every configured failure.
func (s *Server) Clear() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failures = map[string]Failure{}
}

// Calls returns the API operations served so far, in order.
func (s *Server) Calls() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.calls...)
}

// BadSignatures counts API requests whose SigV4 signature did not verify.
func (s *Server) BadSignatures() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.badSigs
}

// Requests returns what the registry front saw.
func (s *Server) Requests() []Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]Request(nil), s.requests...)
}

// Token is the base64 authorization token the API hands out.
func (s *Server) Token() string {
	return base64.StdEncoding.EncodeToString([]byte("AWS:" + s.opts.Password))
}

// JSON 1.1 targets of ECR and ECR Public (whose service is named
// SpencerFrontendService); ECR Public operations are recorded as "public.OP".
const (
	targetPrefix       = "AmazonEC2ContainerRegistry_V20150921."
	publicTargetPrefix = "SpencerFrontendService."
)

func (s *Server) serveAPI(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		writeErr(w, Failure{http.StatusBadRequest, "SerializationException", err.Error()})
		return
	}
	target := r.Header.Get("X-Amz-Target")
	public := strings.HasPrefix(target, publicTargetPrefix)
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-amz-json-1.1" ||
		!(strings.HasPrefix(target, targetPrefix) || public) {
		writeErr(w, Failure{http.StatusBadRequest, "UnknownOperationException", "not an ECR JSON 1.1 request"})
		return
	}
	op := strings.TrimPrefix(strings.TrimPrefix(target, targetPrefix), publicTargetPrefix)
	if public {
		op = "public." + op
	}
	creds := aws.Credentials{AccessKeyID: AccessKeyID, SecretAccessKey: SecretAccessKey}
	if _, f := sigv4check.Verify(r, body, creds, "ecr", "ecr-public"); f != nil {
		s.mu.Lock()
		s.badSigs++
		s.mu.Unlock()
		writeErr(w, Failure{f.Status, f.Type, f.Message})
		return
	}
	s.mu.Lock()
	s.calls = append(s.calls, op)
	f, failing := s.failures[op]
	s.mu.Unlock()
	if failing {
		writeErr(w, f)
		return
	}
	var in struct {
		RepositoryName     string   `json:"repositoryName"`
		RepositoryNames    []string `json:"repositoryNames"`
		ImageTagMutability string   `json:"imageTagMutability"`
	}
	if len(body) > 0 {
		if err := json.Unmarshal(body, &in); err != nil {
			writeErr(w, Failure{http.StatusBadRequest, "SerializationException", err.Error()})
			return
		}
	}
	switch op {
	case "GetAuthorizationToken":
		writeJSON(w, map[string]any{"authorizationData": []map[string]any{{
			"authorizationToken": s.Token(),
			"expiresAt":          float64(time.Now().Add(12 * time.Hour).Unix()),
			"proxyEndpoint":      fmt.Sprintf("https://%s.dkr.ecr.%s.amazonaws.com", Account, s.opts.Region),
		}}})
	case "DescribeRepositories":
		var out []map[string]any
		s.mu.Lock()
		for _, n := range in.RepositoryNames {
			rp, ok := s.repos[n]
			if !ok {
				s.mu.Unlock()
				writeErr(w, notFound(n))
				return
			}
			out = append(out, s.repoJSON(n, rp))
		}
		s.mu.Unlock()
		writeJSON(w, map[string]any{"repositories": out})
	case "CreateRepository":
		s.mu.Lock()
		if _, ok := s.repos[in.RepositoryName]; ok {
			s.mu.Unlock()
			writeErr(w, Failure{http.StatusBadRequest, "RepositoryAlreadyExistsException", fmt.Sprintf(
				"The repository with name '%s' already exists in the registry with id '%s'", in.RepositoryName, Account)})
			return
		}
		rp := &repo{immutable: in.ImageTagMutability == "IMMUTABLE"}
		s.repos[in.RepositoryName] = rp
		out := s.repoJSON(in.RepositoryName, rp)
		s.mu.Unlock()
		writeJSON(w, map[string]any{"repository": out})
	case "public.GetAuthorizationToken":
		writeJSON(w, map[string]any{"authorizationData": map[string]any{
			"authorizationToken": s.Token(),
			"expiresAt":          float64(time.Now().Add(12 * time.Hour).Unix()),
		}})
	default:
		writeErr(w, Failure{http.StatusBadRequest, "UnknownOperationException", op})
	}
}

func (s *Server) repoJSON(name string, rp *repo) map[string]any {
	mut := "MUTABLE"
	if rp.immutable {
		mut = "IMMUTABLE"
	}
	return map[string]any{
		"repositoryName":     name,
		"registryId":         Account,
		"repositoryArn":      fmt.Sprintf("arn:aws:ecr:%s:%s:repository/%s", s.opts.Region, Account, name),
		"repositoryUri":      s.Host + "/" + name,
		"imageTagMutability": mut,
	}
}

func notFound(name string) Failure {
	return Failure{http.StatusBadRequest, "RepositoryNotFoundException", fmt.Sprintf(
		"The repository with name '%s' does not exist in the registry with id '%s'", name, Account)}
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	_ = json.NewEncoder(w).Encode(v)
}

func writeErr(w http.ResponseWriter, f Failure) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.Header().Set("X-Amzn-ErrorType", f.Type)
	w.WriteHeader(f.Status)
	_ = json.NewEncoder(w).Encode(map[string]string{"__type": f.Type, "message": f.Message})
}

// registryFront proxies to the upstream registry, answering NAME_UNKNOWN
// for repositories that do not exist and refusing to move an immutable tag.
func (s *Server) registryFront() http.Handler {
	rp := httputil.NewSingleHostReverseProxy(s.upstream)
	rp.ErrorLog = log.New(io.Discard, "", 0) // client cancellations are expected
	rp.Transport = s.opts.UpstreamTransport
	base := rp.Director
	rp.Director = func(r *http.Request) {
		base(r)
		r.Host = s.upstream.Host
	}
	rp.ModifyResponse = func(resp *http.Response) error {
		rewriteLocation(resp, s.upstream, s.Registry.URL)
		return nil
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		s.front(rp, rec, r)
		s.mu.Lock()
		s.requests = append(s.requests, Request{Method: r.Method, Path: r.URL.Path, Status: rec.status})
		s.mu.Unlock()
	})
}

func (s *Server) front(rp *httputil.ReverseProxy, w http.ResponseWriter, r *http.Request) {
	name, kind, ref := splitV2Path(r.URL.Path)
	if name == "" {
		rp.ServeHTTP(w, r)
		return
	}
	s.mu.Lock()
	repo, ok := s.repos[name]
	s.mu.Unlock()
	// ECR checks authentication before the repository.
	if !ok && r.Header.Get("Authorization") != "" {
		writeRegistryErr(w, http.StatusNotFound, "NAME_UNKNOWN", fmt.Sprintf(
			"The repository with name '%s' does not exist in the registry with id '%s'", name, Account))
		return
	}
	if ok && repo.immutable && kind == "manifests" && r.Method == http.MethodPut && !strings.HasPrefix(ref, "sha256:") {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		sum := sha256.Sum256(body)
		if cur := s.upstreamDigest(r, name, ref); cur != "" && cur != "sha256:"+hex.EncodeToString(sum[:]) {
			writeRegistryErr(w, http.StatusBadRequest, "TAG_INVALID", fmt.Sprintf(
				"The image tag '%s' already exists in the '%s' repository and cannot be overwritten because the repository is immutable.", ref, name))
			return
		}
	}
	rp.ServeHTTP(w, r)
}

// upstreamDigest is the digest the tag points at now ("" if none).
func (s *Server) upstreamDigest(r *http.Request, name, tag string) string {
	u := *s.upstream
	u.Path = "/v2/" + name + "/manifests/" + tag
	req, err := http.NewRequestWithContext(r.Context(), http.MethodHead, u.String(), nil)
	if err != nil {
		return ""
	}
	req.Header.Set("Authorization", r.Header.Get("Authorization"))
	req.Header.Set("Accept", strings.Join([]string{
		"application/vnd.oci.image.manifest.v1+json", "application/vnd.docker.distribution.manifest.v2+json",
		"application/vnd.oci.image.index.v1+json", "application/vnd.docker.distribution.manifest.list.v2+json"}, ","))
	resp, err := (&http.Client{Transport: s.opts.UpstreamTransport}).Do(req)
	if err != nil {
		return ""
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return ""
	}
	return resp.Header.Get("Docker-Content-Digest")
}

// splitV2Path splits /v2/NAME/(manifests|blobs|tags)/REF.
func splitV2Path(p string) (name, kind, ref string) {
	p, ok := strings.CutPrefix(p, "/v2/")
	if !ok {
		return "", "", ""
	}
	for _, k := range []string{"/manifests/", "/blobs/", "/tags/"} {
		if i := strings.Index(p, k); i > 0 {
			return p[:i], strings.Trim(k, "/"), p[i+len(k):]
		}
	}
	return "", "", ""
}

func writeRegistryErr(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"errors": []map[string]string{{"code": code, "message": msg}}})
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(code int) {
	r.status = code
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

// rewriteLocation points the upstream's absolute upload URLs back at the
// front, so clients keep talking through it.
func rewriteLocation(resp *http.Response, upstream *url.URL, front string) {
	loc := resp.Header.Get("Location")
	prefix := upstream.Scheme + "://" + upstream.Host
	if strings.HasPrefix(loc, prefix) {
		resp.Header.Set("Location", front+strings.TrimPrefix(loc, prefix))
	}
}
