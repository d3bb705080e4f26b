// Package lambdaapi talks to the AWS Lambda API for migrations and for layer
// ARNs used as build inputs: it reads a zip function's configuration and
// code (GetFunction), fetches layer versions (GetLayerVersionByArn),
// lists a layer's versions to find its newest (ListLayerVersions),
// downloads and verifies the zips behind the presigned URLs Lambda returns,
// and creates the image function that replaces a zip function
// (CreateFunction, then waits for State Active).
//
// Credentials and endpoints come from the AWS SDK for Go v2's standard
// settings (config.LoadDefaultConfig: environment, shared config and
// credentials files, SSO, IMDS, ...; AWS_ENDPOINT_URL and
// AWS_ENDPOINT_URL_LAMBDA redirect the API). The region of a layer comes
// from its ARN, as does that of a function named by ARN.
//
// Downloads are verified against CodeSize and CodeSha256 (base64 of the raw
// SHA-256 of the zip) before they are kept, and kept only under their final
// name after a rename, so a failed or tampered download leaves nothing
// behind.
//
// Caching (Options.CacheDir): zips are stored by content
// (zips/<hex sha256>.zip) and layer versions are indexed by their ARN
// (layers/<sha256 of the ARN>.json holding the CodeSha256 and the
// compatibility lists). Layer versions are immutable — a version number is
// never reused, not even after the version is deleted — so once a version is
// in the index, FetchLayer makes neither an API call nor a download for it.
// The price is that a cached layer is used even if the caller has since lost
// permission to read it, or the version was deleted. Function code has no such
// index: GetFunction must be called anyway for the configuration, and its
// CodeSha256 then finds the zip in the cache.
//
// The package is silent unless Options.Logf is set.
package lambdaapi

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/lambda"
)

// Options configure every call in this package. The zero value uses the SDK's
// default configuration, no cache, and default timeouts.
type Options struct {
	// Region is used for functions given by name (not ARN) and for
	// CreateFunction; empty means the SDK's configured region (AWS_REGION,
	// the shared config file, ...).
	Region string
	// Endpoint overrides the Lambda API endpoint. Empty means the SDK's own
	// resolution, which honours AWS_ENDPOINT_URL_LAMBDA and AWS_ENDPOINT_URL.
	Endpoint string
	// HTTPClient carries API calls and downloads. Nil means the SDK's client
	// for API calls and a client with bounded timeouts for downloads.
	HTTPClient *http.Client
	// Credentials replaces the default credential chain when set.
	Credentials aws.CredentialsProvider
	// AWSConfig, when set, is used instead of loading the default
	// configuration (so several calls share one load).
	AWSConfig *aws.Config
	// CacheDir holds verified zips and the layer version index (see the
	// package comment). Empty disables caching: downloads go to a fresh
	// temporary directory the caller removes with Remove/Cleanup.
	CacheDir string
	// PollInterval is the pause between GetFunction calls while waiting for
	// a new function to become Active (2s when 0); the FunctionActiveV2
	// waiter's MinDelay and MaxDelay.
	PollInterval time.Duration
	// WaitTimeout bounds that wait (10 minutes when 0); image functions can
	// take minutes to become Active while Lambda optimises the image.
	WaitTimeout time.Duration
	// Logf, when set, receives progress lines (downloads, cache hits).
	Logf func(format string, args ...any)
}

const (
	defaultPollInterval = 2 * time.Second
	defaultWaitTimeout  = 10 * time.Minute
	// downloadTimeout bounds one whole download. Presigned URLs are valid
	// for 10 minutes from issue; S3 keeps serving a download that started in
	// time, so the bound only catches a stalled transfer.
	downloadTimeout = 30 * time.Minute
)

func (o Options) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o Options) pollInterval() time.Duration {
	if o.PollInterval > 0 {
		return o.PollInterval
	}
	return defaultPollInterval
}

func (o Options) waitTimeout() time.Duration {
	if o.WaitTimeout > 0 {
		return o.WaitTimeout
	}
	return defaultWaitTimeout
}

// downloadClient is the client for presigned URLs: never the SDK's signing
// stack (the URL carries its own signature), always bounded.
func (o Options) downloadClient() *http.Client {
	if o.HTTPClient != nil {
		return o.HTTPClient
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.DialContext = (&net.Dialer{Timeout: 30 * time.Second, KeepAlive: 30 * time.Second}).DialContext
	tr.TLSHandshakeTimeout = 30 * time.Second
	tr.ResponseHeaderTimeout = time.Minute
	return &http.Client{Transport: tr, Timeout: downloadTimeout}
}

// LoadConfig loads the AWS configuration the options describe, so a caller
// making several calls can load it once and set Options.AWSConfig.
func LoadConfig(ctx context.Context, opts Options) (aws.Config, error) {
	if opts.AWSConfig != nil {
		return *opts.AWSConfig, nil
	}
	var fns []func(*config.LoadOptions) error
	if opts.Region != "" {
		fns = append(fns, config.WithRegion(opts.Region))
	}
	if opts.HTTPClient != nil {
		fns = append(fns, config.WithHTTPClient(opts.HTTPClient))
	}
	if opts.Credentials != nil {
		fns = append(fns, config.WithCredentialsProvider(opts.Credentials))
	}
	cfg, err := config.LoadDefaultConfig(ctx, fns...)
	if err != nil {
		return aws.Config{}, fmt.Errorf("lambdaapi: loading AWS configuration: %w", err)
	}
	return cfg, nil
}

// newClient returns a Lambda client for region ("" = the configured one).
func newClient(ctx context.Context, opts Options, region string) (*lambda.Client, string, error) {
	cfg, err := LoadConfig(ctx, opts)
	if err != nil {
		return nil, "", err
	}
	if region == "" {
		region = opts.Region
	}
	if region == "" {
		region = cfg.Region
	}
	if region == "" {
		return nil, "", fmt.Errorf("lambdaapi: no AWS region: set AWS_REGION (or a region in the AWS config file), or name the function by ARN")
	}
	client := lambda.NewFromConfig(cfg, func(o *lambda.Options) {
		o.Region = region
		if opts.Endpoint != "" {
			o.BaseEndpoint = aws.String(opts.Endpoint)
		}
		if opts.HTTPClient != nil {
			o.HTTPClient = opts.HTTPClient
		}
	})
	return client, region, nil
}
