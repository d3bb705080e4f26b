// Package testbuildkit starts a throwaway buildkitd for tests: as root, the
// native snapshotter (no overlayfs, no containerd), no container runtime
// (the backend's LLB has no exec ops, so --oci-worker-binary=/bin/false),
// a unix socket in a short temp dir, state removed when the test ends.
// Tests skip when buildkitd is not installed or not root, unless
// LAMBDA_OCI_REQUIRE_TOOLS=1 (set by .ci/run) turns that into a failure.
package testbuildkit

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	bkclient "github.com/moby/buildkit/client"

	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// Daemon is a running buildkitd.
type Daemon struct {
	// Address is "unix://PATH", for the BuildKit client.
	Address string
	// Root is the daemon's state directory; LogFile its output.
	Root, LogFile string

	cmd  *exec.Cmd
	done chan struct{}
}

// Options configure a daemon.
type Options struct {
	// RegistryCAs maps a TLS registry's host ("127.0.0.1:PORT") to the PEM
	// file of the CA that signed its certificate. Without an entry,
	// buildkitd speaks plain HTTP to loopback hosts (containerd's localhost
	// rule), which a TLS registry refuses.
	RegistryCAs map[string]string
}

// Start runs a buildkitd until the test ends.
func Start(t testing.TB) *Daemon {
	t.Helper()
	return StartWith(t, Options{})
}

// StartWith runs a buildkitd configured by opts until the test ends.
func StartWith(t testing.TB, opts Options) *Daemon {
	t.Helper()
	testregistry.RequireTool(t, "buildkitd")
	if os.Geteuid() != 0 {
		// The native snapshotter bind-mounts snapshots: CAP_SYS_ADMIN.
		if os.Getenv("LAMBDA_OCI_REQUIRE_TOOLS") == "1" {
			t.Fatal("buildkitd needs root (LAMBDA_OCI_REQUIRE_TOOLS=1)")
		}
		t.Skip("buildkitd needs root")
	}
	// Unix socket paths are limited to 108 bytes; t.TempDir() carries the
	// test's name and can be longer.
	sockDir, err := os.MkdirTemp("", "bk")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	d := &Daemon{
		Address: "unix://" + filepath.Join(sockDir, "buildkitd.sock"),
		Root:    filepath.Join(dir, "state"),
		LogFile: filepath.Join(dir, "buildkitd.log"),
		done:    make(chan struct{}),
	}
	// The daemon's default GC keeps up to 10% of the disk; a test's state
	// is small, and a CI machine's disk is shared.
	cfg := filepath.Join(dir, "buildkitd.toml")
	if err := os.WriteFile(cfg, []byte(config(opts)), 0o600); err != nil {
		t.Fatal(err)
	}
	logf, err := os.Create(d.LogFile)
	if err != nil {
		t.Fatal(err)
	}
	d.cmd = exec.Command("buildkitd",
		"--config", cfg, "--root", d.Root, "--addr", d.Address,
		"--oci-worker=true", "--oci-worker-snapshotter=native", "--oci-worker-binary=/bin/false",
		"--containerd-worker=false")
	d.cmd.Stdout, d.cmd.Stderr = logf, logf
	d.cmd.SysProcAttr = sysProcAttr()
	if err := d.cmd.Start(); err != nil {
		logf.Close()
		t.Fatalf("testbuildkit: starting buildkitd: %v", err)
	}
	go func() {
		_ = d.cmd.Wait()
		logf.Close()
		close(d.done)
	}()
	t.Cleanup(func() {
		d.stop()
		_ = os.RemoveAll(sockDir)
	})
	if err := d.waitReady(60 * time.Second); err != nil {
		log, _ := os.ReadFile(d.LogFile)
		t.Fatalf("testbuildkit: %v\n%s", err, log)
	}
	return d
}

// config is buildkitd.toml for opts.
func config(opts Options) string {
	var b strings.Builder
	b.WriteString("[worker.oci]\n  gckeepstorage = \"2GB\"\n")
	hosts := make([]string, 0, len(opts.RegistryCAs))
	for h := range opts.RegistryCAs {
		hosts = append(hosts, h)
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		// http = false: an entry without it still means plain HTTP for a
		// loopback host (util/resolver fillInsecureOpts).
		fmt.Fprintf(&b, "\n[registry.%q]\n  http = false\n  ca = [%q]\n", h, opts.RegistryCAs[h])
	}
	return b.String()
}

// stop asks the daemon to exit and kills it if it does not.
func (d *Daemon) stop() {
	_ = d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.done:
	case <-time.After(15 * time.Second):
		_ = d.cmd.Process.Kill()
		<-d.done
	}
}

func (d *Daemon) waitReady(timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	var last error
	for {
		select {
		case <-d.done:
			return fmt.Errorf("buildkitd exited while starting")
		default:
		}
		if c, err := bkclient.New(ctx, d.Address); err == nil {
			_, last = c.ListWorkers(ctx)
			c.Close()
			if last == nil {
				return nil
			}
		} else {
			last = err
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("buildkitd not ready after %s: %v", timeout, last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}
