package registry

import (
	"context"
	"crypto/x509"
	"encoding/base64"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/random"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/types"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakeecr"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// registryPassword is what the fake's ECR token carries; < 72 bytes (bcrypt).
const registryPassword = "ecr-token-password-3f9a1c0b7d"

type ecrEnv struct {
	reg  *testregistry.Server
	fake *fakeecr.Server
	opts Options
}

// startECR runs docker-registry (TLS, htpasswd user AWS) behind the
// stand-in ECR and points the SDK at it through AWS_ENDPOINT_URL_ECR.
func startECR(t *testing.T) *ecrEnv {
	t.Helper()
	reg := testregistry.Start(t, testregistry.Options{TLS: true, Username: "AWS", Password: registryPassword})
	fake := fakeecr.Start(t, fakeecr.Options{Upstream: reg.URL(), UpstreamTransport: reg.Transport(), Password: registryPassword})
	fake.Setenv(t)
	return &ecrEnv{reg: reg, fake: fake, opts: Options{
		RegistryAuth: AuthECR, Region: "us-east-1", RetryBaseDelay: 1,
	}}
}

func testImage(t *testing.T, layers int) v1.Image {
	t.Helper()
	img, err := random.Image(2048, int64(layers))
	require.NoError(t, err)
	return img
}

func withCode(t *testing.T, base v1.Image) v1.Image {
	t.Helper()
	l, err := random.Layer(1024, types.DockerLayer)
	require.NoError(t, err)
	img, err := mutate.AppendLayers(base, l)
	require.NoError(t, err)
	return img
}

func uploads(reqs []fakeecr.Request) (posts, puts, manifestPuts int) {
	for _, r := range reqs {
		switch {
		case r.Method == "POST" && strings.Contains(r.Path, "/blobs/uploads"):
			posts++
		case r.Method == "PUT" && strings.Contains(r.Path, "/blobs/uploads"):
			puts++
		case r.Method == "PUT" && strings.Contains(r.Path, "/manifests/"):
			manifestPuts++
		}
	}
	return
}

func TestECRPushCreateRepositoryAndSkipExisting(t *testing.T) {
	ctx := context.Background()
	e := startECR(t)
	base := testImage(t, 3)
	img := withCode(t, base)
	tag := e.fake.Host + "/team/fn:v1"

	opts := e.opts
	opts.CreateRepository = true
	res, err := Push(ctx, img, []string{tag}, opts)
	require.NoError(t, err)
	assert.True(t, e.fake.HasRepository("team/fn"))
	assert.Equal(t, []string{"DescribeRepositories", "CreateRepository", "GetAuthorizationToken"}, e.fake.Calls())
	assert.Zero(t, e.fake.BadSignatures(), "every API call carried a valid SigV4 signature")
	d, _ := img.Digest()
	assert.Equal(t, []string{e.fake.Host + "/team/fn@" + d.String()}, res.References)
	assert.Equal(t, map[string]int{StatusPushed: 5}, statuses(res))

	// Read back from the real registry with the token's credentials.
	got, err := remote.Image(must(name.ParseReference(e.reg.Host+"/team/fn:v1")),
		remote.WithTransport(e.reg.Transport()), remote.WithAuth(basicAuth("AWS", registryPassword)))
	require.NoError(t, err)
	gd, _ := got.Digest()
	assert.Equal(t, d, gd)

	// Second push of the same image: no blob is uploaded again.
	before := len(e.fake.Requests())
	res, err = Push(ctx, img, []string{tag}, e.opts)
	require.NoError(t, err)
	posts, puts, mputs := uploads(e.fake.Requests()[before:])
	assert.Zero(t, posts+puts, "no blob upload on an unchanged push")
	assert.Zero(t, mputs, "an identical manifest is not even re-put")
	assert.Equal(t, map[string]int{StatusExists: 5}, statuses(res))

	// Code-only change: only the code layer and the config are uploaded.
	img2 := withCode(t, base)
	before = len(e.fake.Requests())
	res, err = Push(ctx, img2, []string{tag}, e.opts)
	require.NoError(t, err)
	posts, puts, mputs = uploads(e.fake.Requests()[before:])
	assert.Equal(t, 2, posts, "upload sessions: code layer + config")
	assert.Equal(t, 2, puts, "blob commits: code layer + config")
	assert.Equal(t, 2, mputs, "manifest by digest, then the tag")
	st := statuses(res)
	assert.Equal(t, 2, st[StatusPushed], st)
	assert.Equal(t, 3, st[StatusExists], st)
}

func TestECRMissingRepository(t *testing.T) {
	e := startECR(t)
	_, err := Push(context.Background(), testImage(t, 1), []string{e.fake.Host + "/nope:v1"}, e.opts)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRepositoryNotFound)
	assert.Contains(t, err.Error(), e.fake.Host+"/nope")
	assert.Contains(t, err.Error(), "RepositoryNotFoundException")
	assert.NotContains(t, e.fake.Calls(), "CreateRepository")
	posts, _, _ := uploads(e.fake.Requests())
	assert.Zero(t, posts, "nothing uploaded")
}

func TestECRMissingRepositoryAtRegistry(t *testing.T) {
	// A registry answering NAME_UNKNOWN (no ECR API involved: a keychain
	// is given) is the same typed error.
	e := startECR(t)
	opts := Options{Keychain: staticKeychain{basicAuth("AWS", registryPassword)}, RetryBaseDelay: 1}
	_, err := Push(context.Background(), testImage(t, 1), []string{e.fake.Host + "/ghost:v1"}, opts)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRepositoryNotFound)
	assert.Contains(t, err.Error(), "NAME_UNKNOWN")
}

func TestECRAuthFailures(t *testing.T) {
	tests := []struct {
		name    string
		setup   func(t *testing.T, e *ecrEnv)
		kind    error
		message string
	}{
		{"expired token", func(t *testing.T, e *ecrEnv) {
			e.fake.Fail("GetAuthorizationToken", fakeecr.ExpiredToken)
		}, ErrExpiredCredentials, "ExpiredTokenException"},
		{"access denied", func(t *testing.T, e *ecrEnv) {
			e.fake.Fail("GetAuthorizationToken", fakeecr.AccessDenied("GetAuthorizationToken"))
		}, ErrAccessDenied, "not authorized to perform: ecr:GetAuthorizationToken"},
		{"access denied creating", func(t *testing.T, e *ecrEnv) {
			e.fake.Fail("CreateRepository", fakeecr.AccessDenied("CreateRepository"))
		}, ErrAccessDenied, "ecr:CreateRepository"},
		{"no credentials", func(t *testing.T, e *ecrEnv) {
			t.Setenv("AWS_ACCESS_KEY_ID", "")
			t.Setenv("AWS_SECRET_ACCESS_KEY", "")
		}, ErrNoCredentials, "no AWS credentials found"},
		{"wrong secret", func(t *testing.T, e *ecrEnv) {
			t.Setenv("AWS_SECRET_ACCESS_KEY", "not-the-secret")
		}, ErrUnauthorized, "InvalidSignatureException"},
		{"unknown key", func(t *testing.T, e *ecrEnv) {
			t.Setenv("AWS_ACCESS_KEY_ID", "AKIDSOMEONEELSE00000")
		}, ErrUnauthorized, "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := startECR(t)
			tt.setup(t, e)
			opts := e.opts
			opts.CreateRepository = true
			_, err := Push(context.Background(), testImage(t, 1), []string{e.fake.Host + "/fn:v1"}, opts)
			require.Error(t, err)
			assert.ErrorIs(t, err, tt.kind)
			assert.Contains(t, err.Error(), tt.message)
			assert.NotContains(t, err.Error(), "401", "the AWS reason, not a bare 401")
		})
	}
}

func TestECRWrongRegistryPassword(t *testing.T) {
	// The API hands out a token the registry does not accept.
	reg := testregistry.Start(t, testregistry.Options{TLS: true, Username: "AWS", Password: registryPassword})
	fake := fakeecr.Start(t, fakeecr.Options{Upstream: reg.URL(), UpstreamTransport: reg.Transport(), Password: "stale-password"})
	fake.Setenv(t)
	fake.CreateRepository("fn", false)
	_, err := Push(context.Background(), testImage(t, 1), []string{fake.Host + "/fn:v1"},
		Options{RegistryAuth: AuthECR, Region: "us-east-1", RetryBaseDelay: 1})
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrUnauthorized)
	assert.Contains(t, err.Error(), fake.Host+"/fn")
}

func TestECRImmutableTag(t *testing.T) {
	ctx := context.Background()
	e := startECR(t)
	e.fake.CreateRepository("fn", true)
	tag := e.fake.Host + "/fn:v1"
	img1 := testImage(t, 2)
	_, err := Push(ctx, img1, []string{tag}, e.opts)
	require.NoError(t, err)

	// The identical manifest under the same tag: success.
	_, err = Push(ctx, img1, []string{tag}, e.opts)
	require.NoError(t, err)

	img2 := withCode(t, img1)
	_, err = Push(ctx, img2, []string{tag}, e.opts)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrTagImmutable)
	var re *Error
	require.ErrorAs(t, err, &re)
	d2, _ := img2.Digest()
	assert.Equal(t, e.fake.Host+"/fn@"+d2.String(), re.PushedRef)
	assert.Contains(t, err.Error(), "immutable")

	// The digest reference that was reported is really there.
	auth := remote.WithAuth(basicAuth("AWS", registryPassword))
	_, err = remote.Head(must(name.ParseReference(e.reg.Host+"/fn@"+d2.String())), remote.WithTransport(e.reg.Transport()), auth)
	assert.NoError(t, err)
	// And the tag still names the first image.
	desc, err := remote.Head(must(name.ParseReference(e.reg.Host+"/fn:v1")), remote.WithTransport(e.reg.Transport()), auth)
	require.NoError(t, err)
	d1, _ := img1.Digest()
	assert.Equal(t, d1, desc.Digest)
}

func TestECRCredentialsNeverLogged(t *testing.T) {
	e := startECR(t)
	var mu sync.Mutex
	var out strings.Builder
	record := func(s string) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(strings.TrimSpace(s) + "\n")
	}
	opts := e.opts
	opts.CreateRepository = true
	opts.Progress = func(ev ProgressEvent) { record(sprintf("%+v", ev)) }
	opts.Logf = func(f string, a ...any) { record(sprintf(f, a...)) }
	_, err := Push(context.Background(), testImage(t, 2), []string{e.fake.Host + "/fn:v1"}, opts)
	require.NoError(t, err)
	// And a failing run, whose errors are logged too.
	e.fake.Fail("GetAuthorizationToken", fakeecr.ExpiredToken)
	_, err = Push(context.Background(), testImage(t, 1), []string{e.fake.Host + "/fn:v2"}, opts)
	require.Error(t, err)
	out.WriteString(err.Error())

	s := out.String()
	require.Contains(t, s, "ECR token", "verbose log ran")
	for _, secret := range []string{registryPassword, e.fake.Token(), fakeecr.SecretAccessKey,
		base64.StdEncoding.EncodeToString([]byte("AWS:" + registryPassword))} {
		assert.NotContains(t, s, secret)
	}
}

func TestECRGenericEndpointSetting(t *testing.T) {
	// AWS_ENDPOINT_URL (all services) works as well as the ECR-specific one.
	e := startECR(t)
	t.Setenv("AWS_ENDPOINT_URL", os.Getenv("AWS_ENDPOINT_URL_ECR"))
	t.Setenv("AWS_ENDPOINT_URL_ECR", "")
	opts := e.opts
	opts.CreateRepository = true
	_, err := Push(context.Background(), testImage(t, 1), []string{e.fake.Host + "/fn:v1"}, opts)
	require.NoError(t, err)
	assert.Contains(t, e.fake.Calls(), "GetAuthorizationToken")
}

func TestECRMountFromBaseRepository(t *testing.T) {
	ctx := context.Background()
	e := startECR(t)
	e.fake.CreateRepository("lambda/base", false)
	e.fake.CreateRepository("fn", false)
	_, err := Push(ctx, testImage(t, 3), []string{e.fake.Host + "/lambda/base:1"}, e.opts)
	require.NoError(t, err)

	b, err := FetchBase(ctx, e.fake.Host+"/lambda/base:1", e.opts)
	require.NoError(t, err)
	require.NotNil(t, b.Image)
	res, err := Push(ctx, withCode(t, b.Image), []string{e.fake.Host + "/fn:v1"}, e.opts)
	require.NoError(t, err)
	assert.Equal(t, map[string]int{StatusMounted: 3, StatusPushed: 2}, statuses(res))
}

func TestECRTargetFor(t *testing.T) {
	tests := []struct {
		host, auth, region string
		want               ecrTarget
		isECR              bool
		err                string
	}{
		{host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", want: ecrTarget{Region: "eu-west-1", RegistryID: "123456789012"}, isECR: true},
		{host: "123456789012.dkr-ecr.ap-south-2.on.aws", want: ecrTarget{Region: "ap-south-2", RegistryID: "123456789012"}, isECR: true},
		{host: "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", want: ecrTarget{Region: "cn-north-1", RegistryID: "123456789012"}, isECR: true},
		{host: "123456789012.dkr.ecr.eu-west-1.amazonaws.com", region: "us-east-1", want: ecrTarget{Region: "eu-west-1", RegistryID: "123456789012"}, isECR: true},
		{host: "public.ecr.aws", want: ecrTarget{public: true, Region: "us-east-1"}, isECR: true},
		{host: "public.ecr.aws", auth: AuthECR, region: "eu-west-1", want: ecrTarget{public: true, Region: "us-east-1"}, isECR: true},
		{host: "ghcr.io"},
		{host: "127.0.0.1:5000", auth: AuthECR, region: "us-west-2", want: ecrTarget{Region: "us-west-2"}, isECR: true},
		{host: "127.0.0.1:5000", auth: AuthECR, err: "needs a region"},
	}
	for _, tt := range tests {
		t.Run(tt.host+"/"+tt.auth+"/"+tt.region, func(t *testing.T) {
			got, ok, err := ecrTargetFor(tt.host, Options{RegistryAuth: tt.auth, Region: tt.region})
			if tt.err != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.isECR, ok)
			assert.Equal(t, tt.want, got)
		})
	}
}

func TestPushToTLSRegistryWithRootCAs(t *testing.T) {
	// Plain docker config / anonymous path against the real TLS registry,
	// trusting its CA through Options.RootCAs.
	reg := testregistry.Start(t, testregistry.Options{TLS: true})
	pem, err := os.ReadFile(reg.CAFile)
	require.NoError(t, err)
	pool := x509.NewCertPool()
	require.True(t, pool.AppendCertsFromPEM(pem))
	t.Setenv("DOCKER_CONFIG", t.TempDir())
	img := testImage(t, 2)
	res, err := Push(context.Background(), img, []string{reg.Host + "/fn:v1"}, Options{RootCAs: pool})
	require.NoError(t, err)
	d, _ := img.Digest()
	assert.Equal(t, d, res.Digest)
	got, err := remote.Head(must(name.ParseReference(reg.Host+"/fn:v1")), remote.WithTransport(reg.Transport()))
	require.NoError(t, err)
	assert.Equal(t, d, got.Digest)
}

func TestECRPublicKeychain(t *testing.T) {
	e := startECR(t)
	public := must(name.NewRepository("public.ecr.aws/lambda/python"))

	// With credentials: an ECR Public token.
	a, err := authn.Resolve(context.Background(), newKeychain(Options{}), public)
	require.NoError(t, err)
	cfg, err := a.Authorization()
	require.NoError(t, err)
	assert.Equal(t, "AWS", cfg.Username)
	assert.Equal(t, registryPassword, cfg.Password)
	assert.Contains(t, e.fake.Calls(), "public.GetAuthorizationToken")

	// Token refused: anonymous (public pulls need none), with a log line.
	e.fake.Fail("public.GetAuthorizationToken", fakeecr.AccessDenied("GetAuthorizationToken"))
	var logs strings.Builder
	a, err = authn.Resolve(context.Background(), newKeychain(Options{Logf: func(f string, a ...any) { logs.WriteString(sprintf(f, a...)) }}), public)
	require.NoError(t, err)
	assert.Equal(t, authn.Anonymous, a)
	assert.Contains(t, logs.String(), "AccessDeniedException")

	// No credentials: anonymous, and the API is not called.
	e.fake.Clear()
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	n := len(e.fake.Calls())
	a, err = authn.Resolve(context.Background(), newKeychain(Options{}), public)
	require.NoError(t, err)
	assert.Equal(t, authn.Anonymous, a)
	assert.Len(t, e.fake.Calls(), n)
}

func TestNonECRHostUsesDockerConfig(t *testing.T) {
	dir := t.TempDir()
	t.Setenv("DOCKER_CONFIG", dir)
	auth := base64.StdEncoding.EncodeToString([]byte("alice:s3cret"))
	require.NoError(t, os.WriteFile(dir+"/config.json", []byte(`{"auths":{"registry.example.com":{"auth":"`+auth+`"}}}`), 0o600))
	kc := newKeychain(Options{})
	a, err := authn.Resolve(context.Background(), kc, must(name.NewRepository("registry.example.com/fn")))
	require.NoError(t, err)
	cfg, err := a.Authorization()
	require.NoError(t, err)
	assert.Equal(t, "alice", cfg.Username)
	a, err = authn.Resolve(context.Background(), kc, must(name.NewRepository("other.example.com/fn")))
	require.NoError(t, err)
	assert.Equal(t, authn.Anonymous, a)
}

// A push-only role without ecr:DescribeRepositories still pushes; a missing
// repository is then reported from the registry's NAME_UNKNOWN, and
// --create-repository still creates it.
func TestECRWithoutDescribeRepositories(t *testing.T) {
	ctx := context.Background()
	e := startECR(t)
	e.fake.Fail("DescribeRepositories", fakeecr.AccessDenied("DescribeRepositories"))
	e.fake.CreateRepository("exists", false)
	_, err := Push(ctx, testImage(t, 1), []string{e.fake.Host + "/exists:v1"}, e.opts)
	require.NoError(t, err)

	_, err = Push(ctx, testImage(t, 1), []string{e.fake.Host + "/missing:v1"}, e.opts)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrRepositoryNotFound)
	assert.Contains(t, err.Error(), "NAME_UNKNOWN")

	opts := e.opts
	opts.CreateRepository = true
	_, err = Push(ctx, testImage(t, 1), []string{e.fake.Host + "/created:v1"}, opts)
	require.NoError(t, err)
	assert.True(t, e.fake.HasRepository("created"))
	_, err = Push(ctx, testImage(t, 1), []string{e.fake.Host + "/exists:v2"}, opts)
	require.NoError(t, err, "already exists is success")
}
