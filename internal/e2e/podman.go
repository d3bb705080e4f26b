package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// PodmanOptions configures a Podman instance.
type PodmanOptions struct {
	// CertDir holds ca.crt for a TLS registry (podman --cert-dir).
	CertDir string
	// Username and Password are passed as --creds on pulls.
	Username, Password string
}

// Podman runs podman with its own configuration, storage and registries
// files in a temp dir, so tests neither read nor touch the machine's
// containers, images or settings. The settings are the ones this kind of
// machine needs (e2e-harness.md): runc (crun fails on hybrid cgroups),
// cgroupfs (no systemd), file events, host networking (no iptables), vfs
// storage, and rlimits within what the machine allows.
type Podman struct {
	opts PodmanOptions
	env  []string
}

// NewPodman prepares a private podman setup that is wiped when the test ends.
func NewPodman(t testing.TB, opts PodmanOptions) *Podman {
	t.Helper()
	testregistry.RequireTool(t, "podman", "runc", "conmon")
	dir := t.TempDir()
	mk := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatalf("podman setup: %v", err)
		}
		return p
	}
	containersConf := fmt.Sprintf(`[containers]
default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]
netns = "host"
log_driver = "k8s-file"

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
tmp_dir = %q
image_copy_tmp_dir = %q
`, mk("tmp"), mk("copytmp"))
	// static_dir, volume_path and the events log default to places under
	// graphroot and tmp_dir. Setting static_dir here made every attached
	// "podman run --rm" hang 20 s: the cleanup process conmon starts is not
	// told about it and records the exit where podman does not look.
	storageConf := fmt.Sprintf(`[storage]
driver = "vfs"
graphroot = %q
runroot = %q
`, mk("graph"), mk("run"))
	registriesConf := "unqualified-search-registries = []\n"
	files := map[string]string{
		"containers.conf": containersConf,
		"storage.conf":    storageConf,
		"registries.conf": registriesConf,
	}
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatalf("podman setup: %v", err)
		}
	}
	p := &Podman{opts: opts, env: append(os.Environ(),
		"CONTAINERS_CONF="+filepath.Join(dir, "containers.conf"),
		"CONTAINERS_STORAGE_CONF="+filepath.Join(dir, "storage.conf"),
		"CONTAINERS_REGISTRIES_CONF="+filepath.Join(dir, "registries.conf"),
	)}
	// Registered after t.TempDir, so it runs before the dir is removed:
	// stops any container left behind and releases the storage.
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if _, err := p.Exec(ctx, "system", "reset", "--force"); err != nil {
			t.Logf("podman system reset: %v", err)
		}
	})
	return p
}

// Exec runs podman with args and returns its stdout; an error carries stderr.
func (p *Podman) Exec(ctx context.Context, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "podman", args...)
	cmd.Env = p.env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return stdout.String(), fmt.Errorf("podman %s: %w\n%s", strings.Join(args, " "), err, stderr.String())
	}
	return stdout.String(), nil
}

// Pull fetches ref from its registry (TLS CA and credentials from the
// options) and returns the image ID.
func (p *Podman) Pull(ctx context.Context, ref string) (string, error) {
	args := []string{"pull", "--quiet"}
	if p.opts.CertDir != "" {
		args = append(args, "--cert-dir", p.opts.CertDir)
	}
	if p.opts.Username != "" {
		args = append(args, "--creds", p.opts.Username+":"+p.opts.Password)
	}
	out, err := p.Exec(ctx, append(args, ref)...)
	return strings.TrimSpace(out), err
}

// ImageDigest is the manifest digest podman recorded for a pulled image.
func (p *Podman) ImageDigest(ctx context.Context, ref string) (string, error) {
	out, err := p.Exec(ctx, "image", "inspect", "--format", "{{.Digest}}", ref)
	return strings.TrimSpace(out), err
}

// Function is a running container serving the Lambda invoke API through
// the emulator inside it.
type Function struct {
	p  *Podman
	ID string
	// URL is the emulator's invoke endpoint.
	URL string
	// Started is when `podman run` was called.
	Started time.Time
}

// RunFunction starts image as Lambda does: a non-root user, read-only root
// file system (podman mounts a tmpfs on /tmp), the handler as the only
// non-emulator argument. Host networking with free loopback ports keeps
// iptables out of it. The container is removed when the test ends, and its
// output is logged if the test failed.
func (p *Podman) RunFunction(ctx context.Context, t testing.TB, image, handler string) (*Function, error) {
	t.Helper()
	ports, err := freePorts(2)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", image, err)
	}
	rieAddr := fmt.Sprintf("127.0.0.1:%d", ports[0])
	apiAddr := fmt.Sprintf("127.0.0.1:%d", ports[1])
	f := &Function{p: p, URL: "http://" + rieAddr + "/2015-03-31/functions/function/invocations", Started: time.Now()}
	// No --rm: a container that dies early keeps its logs for the report.
	out, err := p.Exec(ctx, "run", "-d", "--user", "1000:1000", "--network", "host", "--read-only",
		image,
		"--runtime-interface-emulator-address", rieAddr, "--runtime-api-address", apiAddr, handler)
	if err != nil {
		return nil, fmt.Errorf("running %s: %w", image, err)
	}
	f.ID = strings.TrimSpace(out)
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if t.Failed() {
			t.Logf("container %s (%s) output:\n%s", f.ID, image, f.Logs(cctx))
		}
		if _, err := p.Exec(cctx, "rm", "-f", "-t", "0", f.ID); err != nil {
			t.Logf("removing container: %v", err)
		}
	})
	return f, nil
}

// Logs returns the container's output (the emulator's and the runtime's).
func (f *Function) Logs(ctx context.Context) string {
	cmd := exec.CommandContext(ctx, "podman", "logs", f.ID)
	cmd.Env = f.p.env
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Sprintf("podman logs: %v\n%s", err, out)
	}
	return string(out)
}

// Invoke posts payload to the function and returns the HTTP status and body.
// Until the emulator listens, connection errors are retried (bounded by
// ctx); a container that has exited ends the wait at once.
func (f *Function) Invoke(ctx context.Context, payload string) (int, []byte, error) {
	client := &http.Client{Timeout: 2 * time.Minute}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, f.URL, strings.NewReader(payload))
		if err != nil {
			return 0, nil, fmt.Errorf("invoking %s: %w", f.URL, err)
		}
		resp, err := client.Do(req)
		if err == nil {
			body, rerr := io.ReadAll(resp.Body)
			resp.Body.Close()
			if rerr != nil {
				return 0, nil, fmt.Errorf("invoking %s: reading response: %w", f.URL, rerr)
			}
			return resp.StatusCode, body, nil
		}
		var opErr *net.OpError
		if !errors.As(err, &opErr) || opErr.Op != "dial" {
			return 0, nil, fmt.Errorf("invoking %s: %w", f.URL, err)
		}
		if attempt%20 == 19 {
			state, serr := f.p.Exec(ctx, "inspect", "--format", "{{.State.Status}}", f.ID)
			if serr == nil && strings.TrimSpace(state) != "running" {
				return 0, nil, fmt.Errorf("invoking %s: container %s is %s:\n%s", f.URL, f.ID, strings.TrimSpace(state), f.Logs(ctx))
			}
		}
		select {
		case <-ctx.Done():
			return 0, nil, fmt.Errorf("invoking %s: emulator never answered: %w (last: %v)", f.URL, ctx.Err(), err)
		case <-time.After(25 * time.Millisecond):
		}
	}
}

// freePorts reserves n distinct loopback ports and releases them for the
// container to bind.
func freePorts(n int) ([]int, error) {
	var ports []int
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("reserving a port: %w", err)
		}
		ls = append(ls, l)
		ports = append(ports, l.Addr().(*net.TCPAddr).Port)
	}
	return ports, nil
}
