package lambdaapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
	"github.com/lambda-oci/lambda-oci/internal/testutil"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
)

const (
	layerA = "arn:aws:lambda:us-east-1:123456789012:layer:shared-libs:3"
	layerB = "arn:aws:lambda:us-east-1:210987654321:layer:public-tool:12"
)

// makeZip is a small zip of name -> content.
func makeZip(t *testing.T, files map[string]string) []byte {
	t.Helper()
	var fs []testutil.File
	for name, content := range files {
		fs = append(fs, testutil.F(name, 0o644, content))
	}
	sort.Slice(fs, func(i, j int) bool { return fs[i].Name < fs[j].Name })
	return testutil.Zip(t, fs...)
}

// setup starts a fake and returns options reaching it with its credentials.
func setup(t *testing.T) (*fakelambda.Server, lambdaapi.Options) {
	t.Helper()
	fake := fakelambda.New(t, fakelambda.Options{})
	return fake, lambdaapi.Options{
		Region:       "us-east-1",
		Endpoint:     fake.URL,
		Credentials:  fake.Credentials(),
		CacheDir:     t.TempDir(),
		PollInterval: time.Millisecond,
	}
}

// regularFiles lists the regular files under dir (relative paths).
func regularFiles(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	require.NoError(t, filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.Type().IsRegular() {
			rel, _ := filepath.Rel(dir, p)
			out = append(out, rel)
		}
		return nil
	}))
	return out
}

func TestParseLayerARN(t *testing.T) {
	tests := []struct {
		in      string
		want    lambdaapi.LayerARN
		wantErr string
	}{
		{in: layerA, want: lambdaapi.LayerARN{Partition: "aws", Region: "us-east-1", Account: "123456789012", Name: "shared-libs", Version: 3}},
		{in: "arn:aws-cn:lambda:cn-north-1:123456789012:layer:x_y-z:1", want: lambdaapi.LayerARN{Partition: "aws-cn", Region: "cn-north-1", Account: "123456789012", Name: "x_y-z", Version: 1}},
		{in: "arn:aws-us-gov:lambda:us-gov-west-1:123456789012:layer:l:99", want: lambdaapi.LayerARN{Partition: "aws-us-gov", Region: "us-gov-west-1", Account: "123456789012", Name: "l", Version: 99}},
		{in: "arn:aws-eusc:lambda:eusc-de-east-1:123456789012:layer:l:2", want: lambdaapi.LayerARN{Partition: "aws-eusc", Region: "eusc-de-east-1", Account: "123456789012", Name: "l", Version: 2}},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:shared-libs", wantErr: "no version"},
		{in: "arn:aws:lambda:us-east-1:123456789012:function:f:1", wantErr: "not a Lambda layer ARN"},
		{in: "arn:aws:s3:::bucket/key:a:b:c", wantErr: "not a Lambda layer ARN"},
		{in: "layer.zip", wantErr: "not an ARN"},
		{in: "arn:aws:lambda:useast1:123456789012:layer:l:1", wantErr: `region "useast1"`},
		{in: "arn:aws:lambda:us-east-1:1234:layer:l:1", wantErr: `account "1234"`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:bad.name:1", wantErr: `layer name "bad.name"`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:l:0", wantErr: `version "0"`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:l:03", wantErr: `version "03"`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:l:latest", wantErr: `version "latest"`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:l:1:2", wantErr: "too many fields"},
		{in: "arn:aws-iso-b:lambda:us-isob-east-1:123456789012:layer:l:7", want: lambdaapi.LayerARN{Partition: "aws-iso-b", Region: "us-isob-east-1", Account: "123456789012", Name: "l", Version: 7}},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:" + strings.Repeat("n", 140) + ":1", want: lambdaapi.LayerARN{Partition: "aws", Region: "us-east-1", Account: "123456789012", Name: strings.Repeat("n", 140), Version: 1}},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer", wantErr: "not a Lambda layer ARN"},
		{in: "arn:aws:lambda:us-east-1:123456789012:layers:l:1", wantErr: "not a Lambda layer ARN"},
		{in: "arn:aws:lambda:us-east-1", wantErr: "not an ARN"},
		{in: " arn:aws:lambda:us-east-1:123456789012:layer:l:1", wantErr: "not an ARN"},
		{in: "ARN:aws:lambda:us-east-1:123456789012:layer:l:1", wantErr: "not an ARN"},
		{in: "arn:AWS:lambda:us-east-1:123456789012:layer:l:1", wantErr: `partition "AWS"`},
		{in: "arn::lambda:us-east-1:123456789012:layer:l:1", wantErr: `partition ""`},
		{in: "arn:aws-cn:lambda::123456789012:layer:l:1", wantErr: `region ""`},
		{in: "arn:aws-us-gov:lambda:us-gov-west-1::layer:l:1", wantErr: `account ""`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer::1", wantErr: `layer name ""`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:" + strings.Repeat("n", 141) + ":1", wantErr: "layer name"},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:l:+3", wantErr: `version "+3"`},
		{in: "arn:aws:lambda:us-east-1:123456789012:layer:l:", wantErr: `version ""`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := lambdaapi.ParseLayerARN(tt.in)
			assert.Equal(t, tt.wantErr == "", lambdaapi.IsLayerARN(tt.in))
			if tt.wantErr != "" {
				require.Error(t, err)
				assert.Contains(t, err.Error(), tt.wantErr)
				assert.Contains(t, err.Error(), tt.in, "the error names the input")
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.want, got)
			assert.Equal(t, tt.in, got.String())
		})
	}
}

func TestFetchLayerVerifiesAndCachesByARN(t *testing.T) {
	fake, opts := setup(t)
	zipA := makeZip(t, map[string]string{"python/a.py": "A = 1\n"})
	fake.AddLayer(fakelambda.Layer{ARN: layerA, Zip: zipA, CompatibleRuntimes: []string{"python3.12", "python3.13"}, CompatibleArchitectures: []string{"x86_64"}})
	ctx := context.Background()

	l, err := lambdaapi.FetchLayer(ctx, layerA, opts)
	require.NoError(t, err)
	got, err := os.ReadFile(l.Path)
	require.NoError(t, err)
	assert.Equal(t, zipA, got)
	assert.Equal(t, fakelambda.CodeSha256(zipA), l.CodeSha256)
	assert.Equal(t, int64(len(zipA)), l.CodeSize)
	assert.Equal(t, []string{"python3.12", "python3.13"}, l.CompatibleRuntimes)
	assert.Equal(t, []string{"x86_64"}, l.CompatibleArchitectures)
	assert.True(t, l.Downloaded)
	assert.False(t, l.FromCache)
	assert.True(t, strings.HasPrefix(l.Path, opts.CacheDir), "the zip is kept in the cache")
	assert.Equal(t, 1, fake.CallCount("GetLayerVersionByArn"))
	assert.Equal(t, 1, fake.Downloads())
	calls := fake.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "/2018-10-31/layers", calls[0].Path)
	assert.Equal(t, "LayerVersion", calls[0].Query.Get("find"))
	assert.Equal(t, layerA, calls[0].Query.Get("Arn"))

	// The version is immutable: a second fetch asks nothing of Lambda.
	again, err := lambdaapi.FetchLayer(ctx, layerA, opts)
	require.NoError(t, err)
	assert.True(t, again.FromCache)
	assert.Equal(t, l.Path, again.Path)
	assert.Equal(t, l.CodeSha256, again.CodeSha256)
	assert.Equal(t, l.CompatibleRuntimes, again.CompatibleRuntimes)
	assert.Equal(t, 1, fake.CallCount("GetLayerVersionByArn"), "no API call for a cached version")
	assert.Equal(t, 1, fake.Downloads(), "no download for a cached version")

	// Another version with the same content is found by digest: an API
	// call, but no download.
	otherVersion := strings.TrimSuffix(layerA, ":3") + ":4"
	fake.AddLayer(fakelambda.Layer{ARN: otherVersion, Zip: zipA})
	same, err := lambdaapi.FetchLayer(ctx, otherVersion, opts)
	require.NoError(t, err)
	assert.False(t, same.Downloaded)
	assert.Equal(t, l.Path, same.Path)
	assert.Equal(t, 2, fake.CallCount("GetLayerVersionByArn"))
	assert.Equal(t, 1, fake.Downloads())
}

func TestFetchLayerCacheIndexDamage(t *testing.T) {
	fake, opts := setup(t)
	zipA := makeZip(t, map[string]string{"bin/tool": "#!/bin/sh\n"})
	fake.AddLayer(fakelambda.Layer{ARN: layerA, Zip: zipA})
	ctx := context.Background()
	l, err := lambdaapi.FetchLayer(ctx, layerA, opts)
	require.NoError(t, err)

	// A truncated zip in the cache is not trusted: it is fetched again.
	require.NoError(t, os.Truncate(l.Path, 10))
	again, err := lambdaapi.FetchLayer(ctx, layerA, opts)
	require.NoError(t, err)
	assert.False(t, again.FromCache)
	got, err := os.ReadFile(again.Path)
	require.NoError(t, err)
	assert.Equal(t, zipA, got)
	assert.Equal(t, 2, fake.Downloads())
}

func TestFetchLayerWithoutCache(t *testing.T) {
	fake, opts := setup(t)
	opts.CacheDir = ""
	zipA := makeZip(t, map[string]string{"lib/x.so": "not really"})
	fake.AddLayer(fakelambda.Layer{ARN: layerA, Zip: zipA})
	l, err := lambdaapi.FetchLayer(context.Background(), layerA, opts)
	require.NoError(t, err)
	got, err := os.ReadFile(l.Path)
	require.NoError(t, err)
	assert.Equal(t, zipA, got)
	l.Remove()
	_, err = os.Stat(l.Path)
	assert.ErrorIs(t, err, fs.ErrNotExist, "Remove deletes the temporary download")
}

func TestFetchLayerRegionFromARN(t *testing.T) {
	fake, opts := setup(t)
	arn := "arn:aws:lambda:eu-west-1:123456789012:layer:eu-layer:7"
	fake.AddLayer(fakelambda.Layer{ARN: arn, Zip: makeZip(t, map[string]string{"a": "a"})})
	_, err := lambdaapi.FetchLayer(context.Background(), arn, opts) // opts.Region is us-east-1
	require.NoError(t, err)
	calls := fake.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "eu-west-1", calls[0].Region, "the request is signed for the layer's region")
}

func TestFetchLayerFailures(t *testing.T) {
	good := makeZip(t, map[string]string{"python/mod.py": "x = 1\n"})
	tampered := bytes.Clone(good)
	tampered[len(tampered)/2] ^= 0xff
	tests := []struct {
		name    string
		layer   *fakelambda.Layer
		prepare func(*fakelambda.Server)
		is      error
		want    []string
	}{
		{
			name:  "checksum mismatch",
			layer: &fakelambda.Layer{ARN: layerA, Zip: good, ServeZip: tampered},
			is:    lambdaapi.ErrChecksumMismatch,
			want:  []string{layerA, "CodeSha256 mismatch", fakelambda.CodeSha256(good), fakelambda.CodeSha256(tampered)},
		},
		{
			name:  "short download",
			layer: &fakelambda.Layer{ARN: layerA, Zip: good, ServeZip: good[:len(good)-5]},
			is:    lambdaapi.ErrChecksumMismatch,
			want:  []string{layerA, "CodeSize mismatch"},
		},
		{
			name:  "long download",
			layer: &fakelambda.Layer{ARN: layerA, Zip: good, ServeZip: append(bytes.Clone(good), "trailing"...)},
			is:    lambdaapi.ErrChecksumMismatch,
			want:  []string{layerA, "CodeSize mismatch", "more than"},
		},
		{
			name:    "expired URL",
			layer:   &fakelambda.Layer{ARN: layerA, Zip: good},
			prepare: func(s *fakelambda.Server) { s.SetExpired(true) },
			is:      lambdaapi.ErrURLExpired,
			want:    []string{layerA, "HTTP 403", "Request has expired", "valid for 10 minutes"},
		},
		{
			name: "missing layer version",
			is:   lambdaapi.ErrNotFound,
			want: []string{"GetLayerVersionByArn", layerA, "ResourceNotFoundException", "does not exist"},
		},
		{
			name:  "access denied",
			layer: &fakelambda.Layer{ARN: layerA, Zip: good},
			prepare: func(s *fakelambda.Server) {
				s.Fail("GetLayerVersionByArn", fakelambda.APIError{Status: 403, Type: "AccessDeniedException",
					Message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: lambda:GetLayerVersion on resource: " + layerA})
			},
			is:   lambdaapi.ErrAccessDenied,
			want: []string{layerA, "AccessDeniedException", "not authorized", "need IAM permission lambda:GetLayerVersion"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, opts := setup(t)
			if tt.layer != nil {
				fake.AddLayer(*tt.layer)
			}
			if tt.prepare != nil {
				tt.prepare(fake)
			}
			l, err := lambdaapi.FetchLayer(context.Background(), layerA, opts)
			require.Error(t, err)
			assert.Nil(t, l)
			assert.ErrorIs(t, err, tt.is)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.NotContains(t, err.Error(), "X-Amz-Signature", "the presigned URL's signature is not printed")
			assert.Empty(t, regularFiles(t, opts.CacheDir), "a failed fetch leaves nothing in the cache")
		})
	}
}

func TestSignatureIsChecked(t *testing.T) {
	fake, opts := setup(t)
	fake.AddLayer(fakelambda.Layer{ARN: layerA, Zip: makeZip(t, map[string]string{"a": "a"})})
	tests := []struct {
		name       string
		akid, key  string
		wantInText string
	}{
		{"wrong secret", fakelambda.DefaultAccessKeyID, "wrong", "InvalidSignatureException"},
		{"unknown key", "AKIDSOMEONEELSE", fakelambda.DefaultSecretAccessKey, "UnrecognizedClientException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := opts
			o.Credentials = credentials(tt.akid, tt.key)
			_, err := lambdaapi.FetchLayer(context.Background(), layerA, o)
			require.Error(t, err)
			assert.Contains(t, err.Error(), tt.wantInText)
		})
	}
	assert.Zero(t, fake.Downloads())
}

// TestEndpointAndCredentialsFromEnvironment goes through the SDK's standard
// settings only: no endpoint, credentials or region in the options.
func TestEndpointAndCredentialsFromEnvironment(t *testing.T) {
	fake := fakelambda.New(t, fakelambda.Options{})
	isolateAWSEnv(t)
	t.Setenv("AWS_ENDPOINT_URL_LAMBDA", fake.URL)
	t.Setenv("AWS_ACCESS_KEY_ID", fake.AccessKeyID())
	t.Setenv("AWS_SECRET_ACCESS_KEY", fake.SecretAccessKey())
	t.Setenv("AWS_REGION", "us-east-1")
	code := makeZip(t, map[string]string{"app.py": "def handler(e, c): return 1\n"})
	fake.AddFunction(fakelambda.Function{Name: "fn", Runtime: "python3.12", Handler: "app.handler", Code: code})

	fn, err := lambdaapi.GetFunction(context.Background(), "fn", "", lambdaapi.Options{CacheDir: t.TempDir()})
	require.NoError(t, err)
	assert.Equal(t, "fn", fn.Name)
	assert.Equal(t, 1, fake.CallCount("GetFunction"))
}

func TestGetFunction(t *testing.T) {
	fake, opts := setup(t)
	code := makeZip(t, map[string]string{"app.py": "def handler(e, c):\n    return 'ok'\n"})
	fake.AddFunction(fakelambda.Function{
		Name:          "orders",
		Runtime:       "python3.12",
		Handler:       "app.handler",
		Role:          "arn:aws:iam::123456789012:role/orders",
		Architectures: []string{"arm64"},
		Layers:        []string{layerB, layerA},
		Environment:   map[string]string{"TABLE": "orders", "SECRET": "s3cr3t"},
		Tags:          map[string]string{"team": "shop"},
		Code:          code,
		Qualifiers:    map[string]string{"live": "7", "7": "7"},
		Config:        map[string]any{"MemorySize": 1024, "Timeout": 30},
	})
	ctx := context.Background()

	fn, err := lambdaapi.GetFunction(ctx, "orders", "live", opts)
	require.NoError(t, err)
	assert.Equal(t, "orders", fn.Name)
	assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:orders:7", fn.ARN)
	assert.Equal(t, "7", fn.Version)
	assert.Equal(t, "us-east-1", fn.Region)
	assert.Equal(t, "python3.12", fn.Runtime)
	assert.Equal(t, "app.handler", fn.Handler)
	assert.Equal(t, "Zip", fn.PackageType)
	assert.Equal(t, []string{"arm64"}, fn.Architectures)
	assert.Equal(t, []string{layerB, layerA}, fn.Layers, "layers keep their configured order")
	assert.Equal(t, map[string]string{"TABLE": "orders", "SECRET": "s3cr3t"}, fn.Environment)
	assert.Equal(t, map[string]string{"team": "shop"}, fn.Tags)
	assert.Equal(t, int32(1024), *fn.Configuration.MemorySize)
	assert.Equal(t, fakelambda.CodeSha256(code), fn.CodeSha256)
	got, err := os.ReadFile(fn.CodePath)
	require.NoError(t, err)
	assert.Equal(t, code, got)
	calls := fake.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "/2015-03-31/functions/orders", calls[0].Path)
	assert.Equal(t, "live", calls[0].Query.Get("Qualifier"))

	// Same code again: found in the cache by its digest.
	_, err = lambdaapi.GetFunction(ctx, "orders", "", opts)
	require.NoError(t, err)
	assert.Equal(t, 1, fake.Downloads())
}

func TestGetFunctionByARNUsesItsRegion(t *testing.T) {
	fake, opts := setup(t)
	fake.AddFunction(fakelambda.Function{Name: "eu-fn", Region: "eu-central-1", Runtime: "nodejs22.x", Handler: "index.handler",
		Code: makeZip(t, map[string]string{"index.js": "exports.handler = async () => 1;\n"})})
	arn := "arn:aws:lambda:eu-central-1:123456789012:function:eu-fn"
	fn, err := lambdaapi.GetFunction(context.Background(), arn, "", opts)
	require.NoError(t, err)
	assert.Equal(t, "eu-central-1", fn.Region)
	assert.Equal(t, []string{"x86_64"}, fn.Architectures, "Lambda's default architecture")
	calls := fake.Calls()
	require.Len(t, calls, 1)
	assert.Equal(t, "eu-central-1", calls[0].Region)
	assert.Equal(t, "/2015-03-31/functions/"+arn, calls[0].Path)
}

func TestGetFunctionFailures(t *testing.T) {
	code := makeZip(t, map[string]string{"app.py": "x"})
	tests := []struct {
		name    string
		fn      fakelambda.Function
		prepare func(*fakelambda.Server)
		is      error
		want    []string
	}{
		{
			name: "image function",
			fn:   fakelambda.Function{Name: "f", PackageType: "Image", ImageUri: "123456789012.dkr.ecr.us-east-1.amazonaws.com/f@sha256:" + strings.Repeat("a", 64)},
			is:   lambdaapi.ErrNotZipFunction,
			want: []string{`"f"`, "PackageType Image", "zip functions only", "dkr.ecr"},
		},
		{
			name: "missing function",
			fn:   fakelambda.Function{Name: "other", Runtime: "python3.12", Handler: "app.handler", Code: code},
			is:   lambdaapi.ErrNotFound,
			want: []string{"GetFunction", `"f"`, "Function not found"},
		},
		{
			name: "code checksum mismatch",
			fn:   fakelambda.Function{Name: "f", Runtime: "python3.12", Handler: "app.handler", Code: code, ServeCode: bytes.Repeat([]byte{'z'}, len(code))},
			is:   lambdaapi.ErrChecksumMismatch,
			want: []string{"code of function f", "CodeSha256 mismatch"},
		},
		{
			name:    "code URL expired",
			fn:      fakelambda.Function{Name: "f", Runtime: "python3.12", Handler: "app.handler", Code: code},
			prepare: func(s *fakelambda.Server) { s.SetExpired(true) },
			is:      lambdaapi.ErrURLExpired,
			want:    []string{"code of function f", "403"},
		},
		{
			name: "access denied",
			fn:   fakelambda.Function{Name: "f", Runtime: "python3.12", Handler: "app.handler", Code: code},
			prepare: func(s *fakelambda.Server) {
				s.Fail("GetFunction", fakelambda.APIError{Status: 403, Type: "AccessDeniedException", Message: "User: x is not authorized to perform: lambda:GetFunction"})
			},
			is:   lambdaapi.ErrAccessDenied,
			want: []string{`"f"`, "lambda:GetFunction", "AccessDeniedException"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, opts := setup(t)
			fake.AddFunction(tt.fn)
			if tt.prepare != nil {
				tt.prepare(fake)
			}
			fn, err := lambdaapi.GetFunction(context.Background(), "f", "", opts)
			require.Error(t, err)
			assert.Nil(t, fn)
			assert.ErrorIs(t, err, tt.is)
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Empty(t, regularFiles(t, opts.CacheDir))
		})
	}
}

// zipFunction is a function with every setting CreateFunctionInput carries over.
func zipFunction(t *testing.T) fakelambda.Function {
	return fakelambda.Function{
		Name:          "orders",
		Runtime:       "python3.12",
		Handler:       "app.handler",
		Role:          "arn:aws:iam::123456789012:role/orders",
		Architectures: []string{"arm64"},
		Layers:        []string{layerA},
		Environment:   map[string]string{"TABLE": "orders"},
		Tags:          map[string]string{"team": "shop", "aws:cloudformation:stack-name": "s"},
		Code:          makeZip(t, map[string]string{"app.py": "x"}),
		Config: map[string]any{
			"MemorySize":       1024,
			"Timeout":          30,
			"Description":      "order API",
			"EphemeralStorage": map[string]any{"Size": 2048},
			"VpcConfig":        map[string]any{"SubnetIds": []string{"subnet-1", "subnet-2"}, "SecurityGroupIds": []string{"sg-1"}, "VpcId": "vpc-1", "Ipv6AllowedForDualStack": true},
			"TracingConfig":    map[string]any{"Mode": "Active"},
			"LoggingConfig":    map[string]any{"LogFormat": "JSON", "ApplicationLogLevel": "INFO", "SystemLogLevel": "WARN", "LogGroup": "/aws/lambda/orders"},
			"DeadLetterConfig": map[string]any{"TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"},
			"FileSystemConfigs": []map[string]any{
				{"Arn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1", "LocalMountPath": "/mnt/data"},
			},
			"KMSKeyArn":  "arn:aws:kms:us-east-1:123456789012:key/k",
			"SnapStart":  map[string]any{"ApplyOn": "None", "OptimizationStatus": "Off"},
			"RevisionId": "r",
		},
	}
}

const wantConfigJSON = `{
  "FunctionName": "orders-image",
  "PackageType": "Image",
  "Code": {
    "ImageUri": "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@sha256:` + "1111111111111111111111111111111111111111111111111111111111111111" + `"
  },
  "Role": "arn:aws:iam::123456789012:role/orders",
  "Description": "order API",
  "MemorySize": 1024,
  "Timeout": 30,
  "EphemeralStorage": {
    "Size": 2048
  },
  "Architectures": [
    "arm64"
  ],
  "Environment": {
    "Variables": {
      "TABLE": "orders"
    }
  },
  "VpcConfig": {
    "SubnetIds": [
      "subnet-1",
      "subnet-2"
    ],
    "SecurityGroupIds": [
      "sg-1"
    ],
    "Ipv6AllowedForDualStack": true
  },
  "TracingConfig": {
    "Mode": "Active"
  },
  "LoggingConfig": {
    "LogFormat": "JSON",
    "ApplicationLogLevel": "INFO",
    "SystemLogLevel": "WARN"
  },
  "DeadLetterConfig": {
    "TargetArn": "arn:aws:sqs:us-east-1:123456789012:dlq"
  },
  "FileSystemConfigs": [
    {
      "Arn": "arn:aws:elasticfilesystem:us-east-1:123456789012:access-point/fsap-1",
      "LocalMountPath": "/mnt/data"
    }
  ],
  "KMSKeyArn": "arn:aws:kms:us-east-1:123456789012:key/k",
  "Tags": {
    "team": "shop"
  }
}
`

const imageURI = "123456789012.dkr.ecr.us-east-1.amazonaws.com/orders@sha256:1111111111111111111111111111111111111111111111111111111111111111"

func TestCreateFunctionInputAndWriteFunctionConfig(t *testing.T) {
	fake, opts := setup(t)
	fake.AddFunction(zipFunction(t))
	fn, err := lambdaapi.GetFunction(context.Background(), "orders", "", opts)
	require.NoError(t, err)

	req := lambdaapi.CreateFunctionInput(fn, "orders-image", imageURI, false)
	dir := t.TempDir()
	path := filepath.Join(dir, "create.json")
	require.NoError(t, req.WriteFunctionConfig(path))
	got, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.JSONEq(t, wantConfigJSON, string(got))
	assert.Equal(t, wantConfigJSON, string(got), "stable key order, indented, newline-terminated")
	assert.Equal(t, []string{"create.json"}, regularFiles(t, dir), "no temporary file left")
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm(), "it holds the environment: owner only")

	var m map[string]any
	require.NoError(t, json.Unmarshal(got, &m))
	for _, k := range []string{"Handler", "Runtime", "Layers", "SnapStart"} {
		assert.NotContains(t, m, k, "image functions refuse %s", k)
	}

	withEnvInImage := lambdaapi.CreateFunctionInput(fn, "orders-image", imageURI, true)
	assert.Nil(t, withEnvInImage.Environment, "variables baked into the image are not repeated")

	// A custom log group is kept; the old function's default one is not.
	fn.Configuration.LoggingConfig.LogGroup = ptr("/shared/logs")
	assert.Equal(t, "/shared/logs", lambdaapi.CreateFunctionInput(fn, "x", imageURI, false).LoggingConfig.LogGroup)
}

func ptr[T any](v T) *T { return &v }

func TestWriteFunctionConfigReplacesOwnerOnly(t *testing.T) {
	req := &lambdaapi.CreateFunctionRequest{FunctionName: "f", PackageType: "Image", Code: lambdaapi.ImageCode{ImageUri: imageURI},
		Environment: &lambdaapi.Environment{Variables: map[string]string{"DB_PASSWORD": "s3cret"}}}
	tests := []struct {
		name     string
		existing os.FileMode // 0: no file before
	}{
		{"new file", 0},
		// The old file's looser mode must not survive: the new content holds secrets.
		{"replaces a world-readable file", 0o644},
		{"replaces an owner-only file", 0o600},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "create.json")
			if tt.existing != 0 {
				require.NoError(t, os.WriteFile(path, []byte("old"), tt.existing))
				require.NoError(t, os.Chmod(path, tt.existing))
			}
			require.NoError(t, req.WriteFunctionConfig(path))
			got, err := os.ReadFile(path)
			require.NoError(t, err)
			assert.Contains(t, string(got), "s3cret")
			fi, err := os.Stat(path)
			require.NoError(t, err)
			assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
			assert.Equal(t, []string{"create.json"}, regularFiles(t, dir), "no temporary file left")
		})
	}

	missing := filepath.Join(t.TempDir(), "no-such-dir", "create.json")
	err := req.WriteFunctionConfig(missing)
	require.Error(t, err)
	assert.Contains(t, err.Error(), missing, "the error names the file")
	assert.NoFileExists(t, missing)
}

func TestCreateFunctionWaitsForActive(t *testing.T) {
	fake, opts := setup(t)
	fake.AddFunction(zipFunction(t))
	ctx := context.Background()
	fn, err := lambdaapi.GetFunction(ctx, "orders", "", opts)
	require.NoError(t, err)
	fake.SetCreateOutcome(fakelambda.CreateOutcome{PendingPolls: 3})
	var logs []string
	opts.Logf = func(format string, args ...any) { logs = append(logs, fmt.Sprintf(format, args...)) }

	created, err := lambdaapi.CreateFunction(ctx, lambdaapi.CreateFunctionInput(fn, "orders-image", imageURI, false), opts)
	require.NoError(t, err)
	assert.Equal(t, "Active", created.State)
	assert.Empty(t, created.StateReasonCode, "Active carries no reason")
	assert.Equal(t, "arn:aws:lambda:us-east-1:123456789012:function:orders-image", created.ARN)
	assert.Equal(t, 4, polls(fake, "orders-image"), "three Pending answers, then Active")
	arn := created.ARN
	// Each wait is logged; the outcome is the caller's to say (once).
	assert.Equal(t, []string{
		"function " + arn + " created (Pending); waiting until Lambda has finished creating it",
		"function " + arn + ": Pending", "function " + arn + ": Pending", "function " + arn + ": Pending",
	}, logs)

	// What reached the API is what the emitted file says, minus nothing.
	reqs := fake.CreateRequests()
	require.Len(t, reqs, 1)
	want := strings.Replace(wantConfigJSON, "orders-image", "orders-image", 1)
	assert.JSONEq(t, want, string(reqs[0]))
}

// polls counts the GetFunction calls about function name: the waiter's polls.
func polls(fake *fakelambda.Server, name string) int {
	n := 0
	for _, c := range fake.Calls() {
		if c.Operation == "GetFunction" && c.Path == "/2015-03-31/functions/"+name {
			n++
		}
	}
	return n
}

func TestCreateFunctionFailures(t *testing.T) {
	tests := []struct {
		name      string
		prepare   func(*fakelambda.Server)
		is        error
		want      []string
		wantPolls int
	}{
		{
			name: "function fails",
			prepare: func(s *fakelambda.Server) {
				s.SetCreateOutcome(fakelambda.CreateOutcome{PendingPolls: 1, FailReasonCode: "ImageAccessDenied", FailReason: "Lambda does not have permission to access the ECR image."})
			},
			is:        lambdaapi.ErrFunctionFailed,
			want:      []string{"orders-image", "State Failed", "ImageAccessDenied", "does not have permission"},
			wantPolls: 2, // Pending, then the Failed answer that carries the reason: no extra call
		},
		{
			name: "polling denied",
			prepare: func(s *fakelambda.Server) {
				s.Fail("GetFunction", fakelambda.APIError{Status: 403, Type: "AccessDeniedException", Message: "User: x is not authorized to perform: lambda:GetFunction"})
			},
			is:        lambdaapi.ErrAccessDenied,
			want:      []string{"GetFunction", "orders-image", "AccessDeniedException", "IAM permission lambda:GetFunction"},
			wantPolls: 1,
		},
		{
			name: "access denied",
			prepare: func(s *fakelambda.Server) {
				s.Fail("CreateFunction", fakelambda.APIError{Status: 403, Type: "AccessDeniedException", Message: "User: x is not authorized to perform: iam:PassRole"})
			},
			is:   lambdaapi.ErrAccessDenied,
			want: []string{"CreateFunction", "orders-image", "lambda:CreateFunction", "iam:PassRole"},
		},
		{
			name: "name taken",
			prepare: func(s *fakelambda.Server) {
				s.AddFunction(fakelambda.Function{Name: "orders-image", Runtime: "python3.12", Handler: "a.b"})
			},
			want: []string{"CreateFunction", "ResourceConflictException", "Function already exist: orders-image"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, opts := setup(t)
			fake.AddFunction(zipFunction(t))
			fn, err := lambdaapi.GetFunction(context.Background(), "orders", "", opts)
			require.NoError(t, err)
			tt.prepare(fake)
			_, err = lambdaapi.CreateFunction(context.Background(), lambdaapi.CreateFunctionInput(fn, "orders-image", imageURI, false), opts)
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Equal(t, tt.wantPolls, polls(fake, "orders-image"))
		})
	}
}

func TestCreateFunctionWaitHonoursCancellation(t *testing.T) {
	fake, opts := setup(t)
	fake.AddFunction(zipFunction(t))
	fn, err := lambdaapi.GetFunction(context.Background(), "orders", "", opts)
	require.NoError(t, err)
	fake.SetCreateOutcome(fakelambda.CreateOutcome{PendingPolls: 1 << 30})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	// Cancel once the first poll has answered Pending, as Ctrl-C would.
	opts.Logf = func(format string, args ...any) {
		if strings.HasSuffix(fmt.Sprintf(format, args...), ": Pending") {
			cancel()
		}
	}
	created, err := lambdaapi.CreateFunction(ctx, lambdaapi.CreateFunctionInput(fn, "orders-image", imageURI, false), opts)
	require.Error(t, err)
	assert.ErrorIs(t, err, context.Canceled)
	assert.Contains(t, err.Error(), `waiting for function "orders-image"`)
	require.NotNil(t, created, "the function exists: the caller learns its ARN")
	assert.Equal(t, "Pending", created.State)
	assert.Equal(t, 1, polls(fake, "orders-image"))
}

func TestCreateFunctionGivesUpAfterWaitTimeout(t *testing.T) {
	fake, opts := setup(t)
	fake.AddFunction(zipFunction(t))
	fn, err := lambdaapi.GetFunction(context.Background(), "orders", "", opts)
	require.NoError(t, err)
	fake.SetCreateOutcome(fakelambda.CreateOutcome{PendingPolls: 1 << 30})
	opts.WaitTimeout = 20 * time.Millisecond
	_, err = lambdaapi.CreateFunction(context.Background(), lambdaapi.CreateFunctionInput(fn, "orders-image", imageURI, false), opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), `function "orders-image": still Pending after 20ms (Creating The function is being created.)`)
	assert.NotErrorIs(t, err, lambdaapi.ErrFunctionFailed)
}

func TestCompatibilityWarning(t *testing.T) {
	l := &lambdaapi.LayerFile{ARN: layerA, CompatibleRuntimes: []string{"python3.12"}, CompatibleArchitectures: []string{"x86_64"}}
	tests := []struct {
		runtime, arch string
		want          []string
	}{
		{"python3.12", "x86_64", nil},
		{"", "x86_64", nil},
		{"python3.13", "x86_64", []string{layerA, "runtime python3.13", "[python3.12]"}},
		{"python3.12", "arm64", []string{layerA, "architecture arm64", "[x86_64]"}},
		{"nodejs22.x", "arm64", []string{"runtime nodejs22.x", "architecture arm64"}},
	}
	for _, tt := range tests {
		t.Run(tt.runtime+"/"+tt.arch, func(t *testing.T) {
			got := l.CompatibilityWarning(tt.runtime, tt.arch)
			if tt.want == nil {
				assert.Empty(t, got)
				return
			}
			for _, w := range tt.want {
				assert.Contains(t, got, w)
			}
		})
	}
	assert.Empty(t, (&lambdaapi.LayerFile{ARN: layerA}).CompatibilityWarning("java21", "arm64"), "no declarations, no warning")
}

func TestResolveLayer(t *testing.T) {
	fake, opts := setup(t)
	zipA := makeZip(t, map[string]string{"a": "a"})
	fake.AddLayer(fakelambda.Layer{ARN: layerA, Zip: zipA})
	ctx := context.Background()

	p, info, err := lambdaapi.ResolveLayer(ctx, "layers/my layer.zip", opts)
	require.NoError(t, err)
	assert.Equal(t, "layers/my layer.zip", p)
	assert.Nil(t, info)

	p, info, err = lambdaapi.ResolveLayer(ctx, layerA, opts)
	require.NoError(t, err)
	require.NotNil(t, info)
	assert.Equal(t, info.Path, p)
	assert.Equal(t, layerA, info.ARN)

	_, _, err = lambdaapi.ResolveLayer(ctx, "arn:aws:lambda:us-east-1:123456789012:layer:no-version", opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "no version")
	assert.Equal(t, 1, fake.CallCount("GetLayerVersionByArn"))
}

func TestListLayerVersionsPagesAndSorts(t *testing.T) {
	fake, opts := setup(t)
	const layer = "arn:aws:lambda:us-east-1:123456789012:layer:shared-libs"
	// 55 versions: more than one page of 50. Deleted ones (gaps) are not listed.
	var want []int64
	for v := int64(1); v <= 60; v++ {
		if v%12 == 0 {
			continue
		}
		fake.AddLayer(fakelambda.Layer{ARN: fmt.Sprintf("%s:%d", layer, v), Zip: makeZip(t, map[string]string{"python/v.py": fmt.Sprint(v)}),
			CompatibleRuntimes: []string{"python3.12"}})
		want = append([]int64{v}, want...)
	}
	// Neighbours whose ARN shares a prefix are other layers.
	fake.AddLayer(fakelambda.Layer{ARN: layer + "-2:99", Zip: []byte("zip")})
	fake.AddLayer(fakelambda.Layer{ARN: "arn:aws:lambda:us-east-1:210987654321:layer:shared-libs:70", Zip: []byte("zip")})

	vs, err := lambdaapi.ListLayerVersions(context.Background(), layer+":3", opts)
	require.NoError(t, err)
	var got []int64
	for _, v := range vs {
		got = append(got, v.Version)
		assert.Equal(t, fmt.Sprintf("%s:%d", layer, v.Version), v.ARN)
		assert.Equal(t, []string{"python3.12"}, v.CompatibleRuntimes)
		assert.Empty(t, v.CodeSha256, "ListLayerVersions does not report it")
	}
	assert.Equal(t, want, got, "every version, newest first")
	assert.Equal(t, 2, fake.CallCount("ListLayerVersions"), "two pages")
	for _, c := range fake.Calls() {
		if c.Operation == "ListLayerVersions" {
			assert.Equal(t, "/2018-10-31/layers/"+layer+"/versions", c.Path, "named by ARN: layers of other accounts list too")
			assert.Equal(t, http.StatusOK, c.Status)
		}
	}
	assert.Zero(t, fake.Downloads())
}

func TestLatestLayerVersion(t *testing.T) {
	fake, opts := setup(t)
	v7 := makeZip(t, map[string]string{"python/v.py": "7"})
	fake.AddLayer(fakelambda.Layer{ARN: layerB, Zip: makeZip(t, map[string]string{"python/v.py": "12"})})
	fake.AddLayer(fakelambda.Layer{ARN: "arn:aws:lambda:us-east-1:210987654321:layer:public-tool:13", Zip: v7, CompatibleArchitectures: []string{"arm64"}})

	v, err := lambdaapi.LatestLayerVersion(context.Background(), layerB, opts)
	require.NoError(t, err)
	assert.Equal(t, "arn:aws:lambda:us-east-1:210987654321:layer:public-tool:13", v.ARN)
	assert.Equal(t, int64(13), v.Version)
	assert.Equal(t, fakelambda.CodeSha256(v7), v.CodeSha256)
	assert.Equal(t, int64(len(v7)), v.CodeSize)
	assert.Equal(t, []string{"arm64"}, v.CompatibleArchitectures)
	assert.Equal(t, 1, fake.CallCount("GetLayerVersionByArn"))
	assert.Zero(t, fake.Downloads(), "described, not downloaded")
}

func TestListLayerVersionsFailures(t *testing.T) {
	const layer = "arn:aws:lambda:us-east-1:123456789012:layer:shared-libs"
	tests := []struct {
		name    string
		arn     string
		prepare func(*fakelambda.Server)
		is      error
		want    []string
	}{
		{
			name: "access denied",
			arn:  layerA,
			prepare: func(s *fakelambda.Server) {
				s.AddLayer(fakelambda.Layer{ARN: layerA, Zip: []byte("zip")})
				s.Fail("ListLayerVersions", fakelambda.APIError{Status: 403, Type: "AccessDeniedException",
					Message: "User: arn:aws:iam::123456789012:user/ci is not authorized to perform: lambda:ListLayerVersions on resource: " + layer})
			},
			is:   lambdaapi.ErrAccessDenied,
			want: []string{"ListLayerVersions", `"` + layer + `"`, "AccessDeniedException", "need IAM permission lambda:ListLayerVersions"},
		},
		{
			name: "no version",
			arn:  layerA,
			is:   lambdaapi.ErrNotFound,
			want: []string{"ListLayerVersions", `"` + layer + `"`, "no version listed"},
		},
		{
			name: "not a layer version ARN",
			arn:  layer,
			want: []string{"no version: name the layer version to use"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, opts := setup(t)
			if tt.prepare != nil {
				tt.prepare(fake)
			}
			_, err := lambdaapi.LatestLayerVersion(context.Background(), tt.arn, opts)
			require.Error(t, err)
			if tt.is != nil {
				assert.ErrorIs(t, err, tt.is)
			}
			for _, w := range tt.want {
				assert.Contains(t, err.Error(), w)
			}
			assert.Zero(t, fake.CallCount("GetLayerVersionByArn"))
		})
	}
}
