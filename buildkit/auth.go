package buildkit

import (
	"context"
	"fmt"

	"github.com/docker/cli/cli/config/types"
	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	"github.com/moby/buildkit/session"
	"github.com/moby/buildkit/session/auth/authprovider"
)

// dockerHubHost is how the daemon names Docker Hub; the keychain (and the
// docker config) know it as index.docker.io.
const dockerHubHost = "registry-1.docker.io"

// authProvider answers the daemon's credential requests from our keychain,
// so a remote daemon pulls the base and pushes the image with the user's
// credentials (ECR tokens from the AWS SDK included) and needs none of its
// own. Credentials go to the daemon, never to the output.
func authProvider(kc authn.Keychain) session.Attachable {
	return authprovider.NewDockerAuthProvider(authprovider.DockerAuthProviderConfig{
		AuthConfigProvider: func(ctx context.Context, host string, _ []string, _ authprovider.ExpireCachedAuthCheck) (types.AuthConfig, error) {
			return authConfig(ctx, kc, host)
		},
	})
}

func authConfig(ctx context.Context, kc authn.Keychain, host string) (types.AuthConfig, error) {
	if host == dockerHubHost {
		host = name.DefaultRegistry
	}
	reg, err := name.NewRegistry(host)
	if err != nil {
		return types.AuthConfig{}, fmt.Errorf("registry %q: %w", host, err)
	}
	a, err := authn.Resolve(ctx, kc, reg)
	if err != nil {
		return types.AuthConfig{}, fmt.Errorf("credentials for %s: %w", host, err)
	}
	c, err := authn.Authorization(ctx, a)
	if err != nil {
		return types.AuthConfig{}, fmt.Errorf("credentials for %s: %w", host, err)
	}
	return types.AuthConfig{
		ServerAddress: host,
		Username:      c.Username, Password: c.Password, Auth: c.Auth,
		IdentityToken: c.IdentityToken, RegistryToken: c.RegistryToken,
	}, nil
}
