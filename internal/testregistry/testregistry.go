// Package testregistry starts Debian's docker-registry (CNCF distribution)
// on loopback for tests: plain HTTP, or TLS with a throwaway CA, optionally
// with htpasswd basic auth. Tests skip when the binary is not installed,
// unless LAMBDA_OCI_REQUIRE_TOOLS=1 (set by .ci/run) turns that into a failure.
package testregistry

import (
	"bufio"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Options selects the server's features.
type Options struct {
	// TLS serves HTTPS with a certificate for 127.0.0.1/localhost signed by
	// a fresh CA (see Server.CAFile / Server.CertDir).
	TLS bool
	// Username/Password enable htpasswd (bcrypt) basic auth.
	Username, Password string
}

// Server is a running registry.
type Server struct {
	// Host is "127.0.0.1:PORT", usable in image references.
	Host string
	// CAFile is the PEM CA certificate (TLS only); CertDir holds it as
	// ca.crt, the layout podman/skopeo --cert-dir expects.
	CAFile, CertDir string
	// RootDir is the filesystem storage root.
	RootDir string
	// LogFile receives the registry's access log (one line per request).
	LogFile string

	cmd   *exec.Cmd
	syncs atomic.Int64 // marker requests sent by Requests
}

// RequireTool skips the test when name is not on PATH, or fails it when
// LAMBDA_OCI_REQUIRE_TOOLS=1 (CI installs every tool, so a missing one there
// is a broken CI script, not a reason to skip).
func RequireTool(t testing.TB, names ...string) {
	t.Helper()
	for _, name := range names {
		if _, err := exec.LookPath(name); err != nil {
			if os.Getenv("LAMBDA_OCI_REQUIRE_TOOLS") == "1" {
				t.Fatalf("%s is required (LAMBDA_OCI_REQUIRE_TOOLS=1) but not on PATH", name)
			}
			t.Skipf("%s not installed; run .ci/run (or apt-get install it) to enable this test", name)
		}
	}
}

// Start runs a registry until the test ends.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	RequireTool(t, "docker-registry")
	dir := t.TempDir()
	s := &Server{RootDir: filepath.Join(dir, "storage"), LogFile: filepath.Join(dir, "registry.log")}
	port := freePort(t)
	s.Host = fmt.Sprintf("127.0.0.1:%d", port)

	var extra strings.Builder
	if opts.TLS {
		RequireTool(t, "openssl")
		certDir := filepath.Join(dir, "certs")
		makeCerts(t, certDir)
		s.CertDir = certDir
		s.CAFile = filepath.Join(certDir, "ca.crt")
		fmt.Fprintf(&extra, "  tls:\n    certificate: %s\n    key: %s\n",
			filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
		// Keep server files out of CertDir: podman treats *.crt there as client certs.
		for _, f := range []string{"server.crt", "server.key"} {
			if err := os.Rename(filepath.Join(certDir, f), filepath.Join(dir, f)); err != nil {
				t.Fatal(err)
			}
		}
	}
	auth := ""
	if opts.Username != "" {
		RequireTool(t, "htpasswd")
		htfile := filepath.Join(dir, "htpasswd")
		out, err := exec.Command("htpasswd", "-B", "-b", "-c", htfile, opts.Username, opts.Password).CombinedOutput()
		if err != nil {
			t.Fatalf("htpasswd: %v: %s", err, out)
		}
		auth = fmt.Sprintf("auth:\n  htpasswd:\n    realm: test\n    path: %s\n", htfile)
	}
	cfg := fmt.Sprintf(`version: 0.1
log:
  level: info
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: %s
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: %s
%s%s`, s.RootDir, s.Host, extra.String(), auth)
	cfgFile := filepath.Join(dir, "config.yml")
	if err := os.WriteFile(cfgFile, []byte(cfg), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(s.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	s.cmd = exec.Command("docker-registry", "serve", cfgFile)
	s.cmd.Stdout = logf
	s.cmd.Stderr = logf
	if err := s.cmd.Start(); err != nil {
		t.Fatalf("starting docker-registry: %v", err)
	}
	var once sync.Once
	stop := func() {
		once.Do(func() {
			_ = s.cmd.Process.Kill()
			_ = s.cmd.Wait()
			_ = logf.Close()
		})
	}
	t.Cleanup(stop)
	if err := s.waitReady(10 * time.Second); err != nil {
		stop()
		log, _ := os.ReadFile(s.LogFile)
		t.Fatalf("docker-registry did not start: %v\n%s", err, log)
	}
	return s
}

// Client returns an HTTP client that trusts the server's CA.
func (s *Server) Client() *http.Client {
	if s.CAFile == "" {
		return &http.Client{Timeout: 10 * time.Second}
	}
	pool := x509.NewCertPool()
	pem, err := os.ReadFile(s.CAFile)
	if err == nil {
		pool.AppendCertsFromPEM(pem)
	}
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
}

// Transport returns an http.RoundTripper trusting the server's CA.
func (s *Server) Transport() http.RoundTripper { return s.Client().Transport }

// URL is the base URL (http:// or https://).
func (s *Server) URL() string {
	if s.CAFile != "" {
		return "https://" + s.Host
	}
	return "http://" + s.Host
}

func (s *Server) waitReady(timeout time.Duration) error {
	c := s.Client()
	if c.Transport == nil {
		c.Transport = http.DefaultTransport
	}
	deadline := time.Now().Add(timeout)
	var last error
	for time.Now().Before(deadline) {
		resp, err := c.Get(s.URL() + "/v2/")
		if err == nil {
			resp.Body.Close()
			// 200 open, 401 with auth: either means it serves.
			if resp.StatusCode == http.StatusOK || resp.StatusCode == http.StatusUnauthorized {
				return nil
			}
			last = fmt.Errorf("GET /v2/: %s", resp.Status)
		} else {
			last = err
		}
		time.Sleep(50 * time.Millisecond)
	}
	return last
}

// Requests returns the access-log lines ("METHOD PATH STATUS") of every
// request answered so far, so tests can count blob uploads. The registry
// writes a line only after it has sent the response, so a client can be
// ahead of the log: Requests first sends a marker request of its own and
// waits for its line, by which time the lines of earlier requests are in.
// Marker requests are left out of the result.
func (s *Server) Requests(t testing.TB) []Request {
	t.Helper()
	marker := fmt.Sprintf("/v2/%s/%d/tags/list", syncRepo, s.syncs.Add(1))
	resp, err := s.Client().Get(s.URL() + marker)
	if err != nil {
		t.Fatalf("testregistry: marker request: %v", err)
	}
	resp.Body.Close()
	deadline := time.Now().Add(10 * time.Second)
	for {
		reqs, seen := s.readLog(t, marker)
		if seen {
			return reqs
		}
		if time.Now().After(deadline) {
			t.Fatalf("testregistry: access log %s never showed %s", s.LogFile, marker)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// syncRepo names the marker requests' repository.
const syncRepo = "lambda-oci-testregistry-sync"

func (s *Server) readLog(t testing.TB, marker string) (reqs []Request, seen bool) {
	t.Helper()
	f, err := os.Open(s.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		r, ok := parseAccessLine(sc.Text())
		if !ok {
			continue
		}
		if strings.HasPrefix(r.Path, "/v2/"+syncRepo+"/") {
			seen = seen || r.Path == marker
			continue
		}
		reqs = append(reqs, r)
	}
	return reqs, seen
}

// Request is one access-log entry.
type Request struct {
	Method, Path string
	Status       int
}

// parseAccessLine reads the combined-log-format line distribution writes:
// `127.0.0.1 - - [date] "PUT /v2/x/blobs/uploads/... HTTP/1.1" 201 0 "" "ua"`.
func parseAccessLine(line string) (Request, bool) {
	i := strings.Index(line, `"`)
	if i < 0 {
		return Request{}, false
	}
	rest := line[i+1:]
	j := strings.Index(rest, `"`)
	if j < 0 {
		return Request{}, false
	}
	parts := strings.Fields(rest[:j])
	if len(parts) < 2 || !strings.HasPrefix(parts[1], "/v2") {
		return Request{}, false
	}
	var status int
	if _, err := fmt.Sscanf(strings.TrimSpace(rest[j+1:]), "%d", &status); err != nil {
		return Request{}, false
	}
	return Request{Method: parts[0], Path: parts[1], Status: status}, true
}

func freePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func makeCerts(t testing.TB, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	ext := filepath.Join(dir, "ext.cnf")
	if err := os.WriteFile(ext, []byte("subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=CA:FALSE\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) {
		cmd := exec.Command("openssl", args...)
		cmd.Dir = dir
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("openssl %v: %v\n%s", args, err, out)
		}
	}
	run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=lambda-oci test CA",
		"-keyout", "ca.key", "-out", "ca.crt")
	run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1", "-keyout", "server.key", "-out", "server.csr")
	run("x509", "-req", "-in", "server.csr", "-CA", "ca.crt", "-CAkey", "ca.key", "-CAcreateserial",
		"-days", "2", "-extfile", "ext.cnf", "-out", "server.crt")
	for _, f := range []string{"ca.key", "ca.srl", "server.csr", "ext.cnf"} {
		_ = os.Remove(filepath.Join(dir, f))
	}
}
