package registry

import (
	"context"
	"sync"

	"github.com/google/go-containerregistry/pkg/authn"
)

// keychain resolves credentials per registry host: ECR hosts (or any host
// with RegistryAuth "ecr") through GetAuthorizationToken, public.ecr.aws
// through an ECR Public token when AWS credentials exist (anonymous
// otherwise), everything else through the docker config and credential
// helpers, then anonymous. Unlike authn.NewKeychainFromHelper it returns
// AWS failures instead of silently falling back to anonymous, so users see
// "ExpiredTokenException" rather than a bare 401. Tokens are cached for the
// keychain's life (one run; ECR tokens last 12 hours).
type keychain struct {
	opts Options
	aws  *awsClients

	mu    sync.Mutex
	cache map[string]authn.Authenticator
}

func newKeychain(o Options) *keychain {
	return &keychain{opts: o, aws: &awsClients{}, cache: map[string]authn.Authenticator{}}
}

// NewKeychain returns the default keychain described on Options.Keychain,
// for callers that want to share one across several calls.
func NewKeychain(o Options) authn.Keychain { return newKeychain(o) }

func (k *keychain) Resolve(r authn.Resource) (authn.Authenticator, error) {
	return k.ResolveContext(context.Background(), r)
}

func (k *keychain) ResolveContext(ctx context.Context, r authn.Resource) (authn.Authenticator, error) {
	host := r.RegistryStr()
	k.mu.Lock()
	defer k.mu.Unlock()
	if a, ok := k.cache[host]; ok {
		return a, nil
	}
	a, err := k.resolve(ctx, host, r)
	if err != nil {
		return nil, err
	}
	k.cache[host] = a
	return a, nil
}

func (k *keychain) resolve(ctx context.Context, host string, r authn.Resource) (authn.Authenticator, error) {
	t, isECR, err := ecrTargetFor(host, k.opts)
	if err != nil {
		return nil, err
	}
	if !isECR {
		a, err := authn.Resolve(ctx, authn.DefaultKeychain, r)
		if err != nil {
			return nil, credHelperError(host, err)
		}
		return a, nil
	}
	user, pass, err := k.aws.ecrToken(ctx, host, t)
	if err != nil {
		if t.public {
			// Public pulls work without a token (at a lower rate limit).
			k.opts.logf("using anonymous access to %s: %v", host, err)
			return authn.Anonymous, nil
		}
		return nil, err
	}
	k.opts.logf("authenticated to %s with an ECR token (region %s)", host, t.Region)
	return &authn.Basic{Username: user, Password: pass}, nil
}
