package registry

import (
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/docker/cli/cli/config"
)

// helperFailure is how docker-credential-helpers' client reports a helper
// that failed: "error getting credentials - err: exit status 1, out:
// `<whatever the helper printed>`". What it printed may be a secret (a
// token it meant to hand over, a half-written JSON), so it is never shown.
const helperFailure = " credentials - err: "

// credHelperError replaces a failed credential helper's error, which
// quotes the helper's output, with one that names the helper and the
// registry and keeps only how it failed (its exit status). Other errors
// pass through.
func credHelperError(host string, err error) error {
	msg := err.Error()
	i := strings.Index(msg, helperFailure)
	if i < 0 {
		return err
	}
	how := msg[i+len(helperFailure):]
	if j := strings.Index(how, ", out: `"); j >= 0 {
		how = how[:j]
	} else {
		how = "failed"
	}
	return fmt.Errorf("%w: %s for registry %s: %s (its output is not shown: it may hold a secret)",
		ErrCredentialHelper, helperName(host), host, how)
}

// ErrCredentialHelper: a docker credential helper failed.
var ErrCredentialHelper = errors.New("docker credential helper failed")

// helperName says which helper the docker config names for host, as
// go-containerregistry's default keychain reads it (config.Load of
// $DOCKER_CONFIG, or ~/.docker).
func helperName(host string) string {
	cf, err := config.Load(os.Getenv("DOCKER_CONFIG"))
	if err == nil {
		if h := cf.CredentialHelpers[host]; h != "" {
			return "docker-credential-" + h
		}
		if cf.CredentialsStore != "" {
			return "docker-credential-" + cf.CredentialsStore
		}
	}
	return "the configured helper"
}
