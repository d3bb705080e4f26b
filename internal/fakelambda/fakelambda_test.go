package fakelambda_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
)

// The SDK-driven tests (lambdaapi) show that signed requests pass; these show
// that what is not signed, or is signed wrongly, does not.
func TestUnsignedAndForgedRequestsAreRefused(t *testing.T) {
	s := fakelambda.New(t, fakelambda.Options{})
	s.AddFunction(fakelambda.Function{Name: "f", Runtime: "python3.12", Handler: "a.b", Code: []byte("zip")})
	tests := []struct {
		name     string
		auth     string
		wantType string
	}{
		{"unsigned", "", "MissingAuthenticationTokenException"},
		{"not SigV4", "Basic Zm9vOmJhcg==", "IncompleteSignatureException"},
		{"forged", "AWS4-HMAC-SHA256 Credential=" + fakelambda.DefaultAccessKeyID + "/20261125/us-east-1/lambda/aws4_request, SignedHeaders=host;x-amz-date, Signature=" + strings.Repeat("0", 64), "InvalidSignatureException"},
	}
	s.AddLayer(fakelambda.Layer{ARN: "arn:aws:lambda:us-east-1:123456789012:layer:l:1", Zip: []byte("zip")})
	for _, tt := range tests {
		for _, path := range []string{"/2015-03-31/functions/f", "/2018-10-31/layers/l/versions"} {
			t.Run(tt.name+path, func(t *testing.T) {
				req, err := http.NewRequest(http.MethodGet, s.URL+path, nil)
				require.NoError(t, err)
				req.Header.Set("X-Amz-Date", "20261125T120000Z")
				if tt.auth != "" {
					req.Header.Set("Authorization", tt.auth)
				}
				resp, err := http.DefaultClient.Do(req)
				require.NoError(t, err)
				defer resp.Body.Close()
				assert.Equal(t, http.StatusForbidden, resp.StatusCode)
				assert.Equal(t, tt.wantType, resp.Header.Get("X-Amzn-ErrorType"))
				var body map[string]string
				require.NoError(t, json.NewDecoder(resp.Body).Decode(&body))
				assert.NotEmpty(t, body["message"])
			})
		}
	}
	assert.Zero(t, s.Downloads())
	assert.Equal(t, len(tests), s.CallCount("ListLayerVersions"), "each refusal is recorded under its operation")
}

func TestDownloadsBehaveLikePresignedURLs(t *testing.T) {
	s := fakelambda.New(t, fakelambda.Options{})
	s.AddFunction(fakelambda.Function{Name: "f", Runtime: "python3.12", Handler: "a.b", Code: []byte("zip bytes")})
	get := func(url, auth string) (int, string) {
		req, err := http.NewRequest(http.MethodGet, url, nil)
		require.NoError(t, err)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		return resp.StatusCode, string(b)
	}
	signed := s.URL + "/download/function/f?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Signature=abc"

	code, body := get(signed, "")
	assert.Equal(t, http.StatusOK, code)
	assert.Equal(t, "zip bytes", body)

	code, _ = get(s.URL+"/download/function/f", "")
	assert.Equal(t, http.StatusForbidden, code, "no presigned signature")

	code, body = get(signed, "AWS4-HMAC-SHA256 Credential=x")
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "Only one auth mechanism allowed")

	s.SetExpired(true)
	code, body = get(signed, "")
	assert.Equal(t, http.StatusForbidden, code)
	assert.Contains(t, body, "<Code>AccessDenied</Code><Message>Request has expired</Message>")
	assert.Equal(t, 4, s.Downloads())
}
