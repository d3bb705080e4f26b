package sigv4check

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var good = aws.Credentials{AccessKeyID: "AKIDTEST", SecretAccessKey: "secret"}

func signed(t *testing.T, creds aws.Credentials, service, body string) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/path?q=1", strings.NewReader(body))
	require.NoError(t, err)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256([]byte(body))
	require.NoError(t, v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), service, "eu-west-1", time.Now()))
	return r
}

func TestVerify(t *testing.T) {
	tests := []struct {
		name     string
		req      func(t *testing.T) *http.Request
		body     string
		wantType string
	}{
		{"valid", func(t *testing.T) *http.Request { return signed(t, good, "ecr", "{}") }, "{}", ""},
		{"unsigned", func(t *testing.T) *http.Request {
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:1/", nil)
			return r
		}, "", "MissingAuthenticationTokenException"},
		{"not sigv4", func(t *testing.T) *http.Request {
			r := signed(t, good, "ecr", "{}")
			r.Header.Set("Authorization", "Basic Zm9vOmJhcg==")
			return r
		}, "{}", "IncompleteSignatureException"},
		{"wrong secret", func(t *testing.T) *http.Request {
			return signed(t, aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: "forged"}, "ecr", "{}")
		}, "{}", "InvalidSignatureException"},
		{"unknown key", func(t *testing.T) *http.Request {
			return signed(t, aws.Credentials{AccessKeyID: "AKIDOTHER", SecretAccessKey: good.SecretAccessKey}, "ecr", "{}")
		}, "{}", "UnrecognizedClientException"},
		{"body changed after signing", func(t *testing.T) *http.Request { return signed(t, good, "ecr", "{}") }, `{"x":1}`, "InvalidSignatureException"},
		{"wrong service", func(t *testing.T) *http.Request { return signed(t, good, "s3", "{}") }, "{}", "InvalidSignatureException"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			sc, f := Verify(tc.req(t), []byte(tc.body), good, "ecr", "ecr-public")
			if tc.wantType == "" {
				require.Nil(t, f)
				assert.Equal(t, Scope{AccessKeyID: "AKIDTEST", Region: "eu-west-1", Service: "ecr"}, sc)
				return
			}
			require.NotNil(t, f)
			assert.Equal(t, tc.wantType, f.Type)
			assert.NotEmpty(t, f.Message)
		})
	}
}
