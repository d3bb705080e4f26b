// Package sigv4check verifies AWS Signature Version 4 on requests reaching
// the stand-in AWS APIs (internal/fakeecr, internal/fakelambda): it signs the
// same request again with the accepted credentials and compares, so only a
// client that really holds them — and scoped the signature to the right
// service — gets through.
package sigv4check

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
)

// Failure is the error AWS answers a badly signed request with.
type Failure struct {
	Status  int
	Type    string
	Message string
}

// Scope is the credential scope of a verified request.
type Scope struct {
	AccessKeyID, Region, Service string
}

var authRE = regexp.MustCompile(`^AWS4-HMAC-SHA256 Credential=([^/]+)/(\d{8})/([^/]+)/([^/]+)/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$`)

// Verify checks r (whose body was already read into body) against creds.
// services lists the service names the scope may carry; empty accepts any.
func Verify(r *http.Request, body []byte, creds aws.Credentials, services ...string) (Scope, *Failure) {
	auth := r.Header.Get("Authorization")
	if auth == "" {
		return Scope{}, &Failure{http.StatusForbidden, "MissingAuthenticationTokenException", "Missing Authentication Token"}
	}
	m := authRE.FindStringSubmatch(auth)
	if m == nil {
		return Scope{}, &Failure{http.StatusForbidden, "IncompleteSignatureException", "Authorization header is not a SigV4 signature"}
	}
	sc := Scope{AccessKeyID: m[1], Region: m[3], Service: m[4]}
	if sc.AccessKeyID != creds.AccessKeyID {
		return sc, &Failure{http.StatusForbidden, "UnrecognizedClientException", "The security token included in the request is invalid."}
	}
	if len(services) > 0 && !slices.Contains(services, sc.Service) {
		return sc, &Failure{http.StatusForbidden, "InvalidSignatureException",
			"Credential should be scoped to correct service: '" + strings.Join(services, "' or '") + "'."}
	}
	when, err := time.Parse("20060102T150405Z", r.Header.Get("X-Amz-Date"))
	if err != nil {
		return sc, &Failure{http.StatusForbidden, "IncompleteSignatureException", "X-Amz-Date missing or malformed"}
	}
	u := *r.URL
	u.Scheme, u.Host = "http", r.Host
	again, err := http.NewRequest(r.Method, u.String(), bytes.NewReader(body))
	if err != nil {
		return sc, &Failure{http.StatusBadRequest, "InvalidRequestContentException", err.Error()}
	}
	again.Host = r.Host
	again.ContentLength = int64(len(body))
	// Only the headers the client signed: its transport adds some after
	// signing (Accept-Encoding), which the signer would otherwise include.
	for _, h := range strings.Split(m[5], ";") {
		if h == "host" || h == "content-length" {
			continue
		}
		again.Header[http.CanonicalHeaderKey(h)] = r.Header.Values(h)
	}
	sum := sha256.Sum256(body)
	signCreds := creds
	signCreds.SessionToken = r.Header.Get("X-Amz-Security-Token")
	if err := v4.NewSigner().SignHTTP(context.Background(), signCreds, again, hex.EncodeToString(sum[:]), sc.Service, sc.Region, when); err != nil {
		return sc, &Failure{http.StatusInternalServerError, "ServiceException", err.Error()}
	}
	if again.Header.Get("Authorization") != auth {
		return sc, &Failure{http.StatusForbidden, "InvalidSignatureException",
			"The request signature we calculated does not match the signature you provided."}
	}
	return sc, nil
}
