// Package fakelambda is a stand-in for the AWS Lambda API in tests: an
// httptest server speaking the REST-JSON protocol the AWS SDK for Go v2
// uses, for the operations lambda-oci calls (GetFunction,
// GetFunctionConfiguration, GetLayerVersionByArn, ListLayerVersions,
// CreateFunction), with the
// presigned code and layer downloads served by the same server.
//
// It behaves like the service where that matters to a client:
//   - every API request must be SigV4-signed for service "lambda" with the
//     server's credentials; anything else is answered as AWS does
//     (403 MissingAuthenticationTokenException, UnrecognizedClientException,
//     InvalidSignatureException);
//   - errors carry the x-amzn-ErrorType header and a JSON body
//     ({"Type":"User","Message":...}), with Lambda's status codes;
//   - downloads answer like S3 presigned URLs: 403 with an XML error once
//     "expired", 400 if the request carries an Authorization header too.
//
// Reach it through the SDK's endpoint settings (AWS_ENDPOINT_URL_LAMBDA=URL)
// or an explicit endpoint option.
package fakelambda

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"

	"github.com/lambda-oci/lambda-oci/internal/sigv4check"
)

// Default credentials and account of a Server.
const (
	DefaultAccessKeyID     = "AKIDFAKELAMBDATEST"
	DefaultSecretAccessKey = "fake-lambda-secret-key"
	DefaultAccount         = "123456789012"
)

// Options configure a Server.
type Options struct {
	// AccessKeyID and SecretAccessKey are the only credentials accepted
	// (Default* when empty).
	AccessKeyID     string
	SecretAccessKey string
	// Account is used in the ARNs the server makes up (DefaultAccount when empty).
	Account string
}

// Function is a function the server knows.
type Function struct {
	Name   string
	Region string // "us-east-1" when empty
	// PackageType is "Zip" (default) or "Image".
	PackageType   string
	Runtime       string
	Handler       string
	Role          string
	Architectures []string
	// Layers are layer version ARNs, in order.
	Layers      []string
	Environment map[string]string
	Tags        map[string]string
	// Code is the zip; its size and digest are what the API reports.
	Code []byte
	// ServeCode, when non-nil, is what the download serves instead of Code
	// (a corrupted download).
	ServeCode []byte
	// ImageUri is reported for Image functions.
	ImageUri string
	// Qualifiers maps accepted qualifiers (versions, aliases) to the version
	// they resolve to; "$LATEST" is always accepted.
	Qualifiers map[string]string
	// Config holds further FunctionConfiguration members, sent verbatim
	// (e.g. "VpcConfig": map[string]any{...}, "MemorySize": 512).
	Config map[string]any
}

// Layer is a layer version the server knows.
type Layer struct {
	// ARN is the layer version ARN.
	ARN string
	Zip []byte
	// ServeZip, when non-nil, is served instead of Zip.
	ServeZip                []byte
	CompatibleRuntimes      []string
	CompatibleArchitectures []string
}

// Call is one API request the server answered.
type Call struct {
	Operation string
	Region    string // from the signature's credential scope
	Method    string
	Path      string // unescaped
	Query     url.Values
	Status    int
}

// APIError is an error the server answers an operation with.
type APIError struct {
	Status  int
	Type    string // x-amzn-ErrorType, e.g. "AccessDeniedException"
	Message string
}

// CreateOutcome says how a function made by CreateFunction evolves.
type CreateOutcome struct {
	// PendingPolls is how many reads of the function's state see Pending:
	// GetFunction and GetFunctionConfiguration calls both count, as either
	// is how a client (or the SDK's FunctionActiveV2 waiter) polls.
	PendingPolls int
	// FailReasonCode/FailReason, when set, make the function Failed instead of Active.
	FailReasonCode string
	FailReason     string
}

// Server is the fake Lambda API.
type Server struct {
	// URL is the endpoint to configure clients with.
	URL string

	srv  *httptest.Server
	opts Options

	mu        sync.Mutex
	functions map[string]*Function
	layers    map[string]*Layer
	created   map[string]*createdFunction
	expired   bool
	failures  map[string]APIError
	outcome   CreateOutcome
	calls     []Call
	downloads map[string]int
	requests  []json.RawMessage
}

type createdFunction struct {
	config   map[string]any
	imageURI string
	pending  int
	outcome  CreateOutcome
}

// poll is one read of a created function's state: Pending until the
// outcome's PendingPolls are used up, then Failed or Active for good.
// Caller holds s.mu.
func (c *createdFunction) poll() map[string]any {
	switch {
	case c.pending > 0:
		c.pending--
	case c.outcome.FailReasonCode != "":
		c.config["State"], c.config["StateReasonCode"], c.config["StateReason"] = "Failed", c.outcome.FailReasonCode, c.outcome.FailReason
	default:
		c.config["State"] = "Active"
		delete(c.config, "StateReasonCode")
		delete(c.config, "StateReason")
	}
	return c.config
}

// New starts a server and stops it when the test ends.
func New(t testing.TB, opts Options) *Server {
	t.Helper()
	if opts.AccessKeyID == "" {
		opts.AccessKeyID = DefaultAccessKeyID
	}
	if opts.SecretAccessKey == "" {
		opts.SecretAccessKey = DefaultSecretAccessKey
	}
	if opts.Account == "" {
		opts.Account = DefaultAccount
	}
	s := &Server{
		opts:      opts,
		functions: map[string]*Function{},
		layers:    map[string]*Layer{},
		created:   map[string]*createdFunction{},
		failures:  map[string]APIError{},
		downloads: map[string]int{},
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /2015-03-31/functions/{name}", s.api("GetFunction", s.getFunction))
	mux.HandleFunc("GET /2015-03-31/functions/{name}/configuration", s.api("GetFunctionConfiguration", s.getFunctionConfiguration))
	mux.HandleFunc("POST /2015-03-31/functions", s.api("CreateFunction", s.createFunction))
	mux.HandleFunc("GET /2018-10-31/layers", s.api("GetLayerVersionByArn", s.getLayerVersionByArn))
	mux.HandleFunc("GET /2018-10-31/layers/{name}/versions", s.api("ListLayerVersions", s.listLayerVersions))
	mux.HandleFunc("GET /download/{kind}/{key}", s.download)
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "UnknownOperationException", "fakelambda: no operation at "+r.Method+" "+r.URL.Path)
	})
	s.srv = httptest.NewServer(mux)
	s.URL = s.srv.URL
	t.Cleanup(s.srv.Close)
	return s
}

// Credentials returns a provider of the credentials the server accepts.
func (s *Server) Credentials() aws.CredentialsProvider {
	return aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) {
		return aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey, Source: "fakelambda"}, nil
	})
}

// AccessKeyID and SecretAccessKey are the accepted credentials (for the
// AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY environment of a CLI test).
func (s *Server) AccessKeyID() string     { return s.opts.AccessKeyID }
func (s *Server) SecretAccessKey() string { return s.opts.SecretAccessKey }

// AddFunction registers (or replaces) a function.
func (s *Server) AddFunction(f Function) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if f.Region == "" {
		f.Region = "us-east-1"
	}
	if f.PackageType == "" {
		f.PackageType = "Zip"
	}
	s.functions[f.Name] = &f
}

// AddLayer registers (or replaces) a layer version.
func (s *Server) AddLayer(l Layer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.layers[l.ARN] = &l
}

// SetExpired makes every download answer 403 as an expired presigned URL does.
func (s *Server) SetExpired(expired bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.expired = expired
}

// Fail makes every call of operation (e.g. "GetFunction") answer err, until
// Fail is called again with a zero APIError.
func (s *Server) Fail(operation string, err APIError) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err.Status == 0 {
		delete(s.failures, operation)
		return
	}
	s.failures[operation] = err
}

// SetCreateOutcome sets how functions created from now on evolve.
func (s *Server) SetCreateOutcome(o CreateOutcome) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.outcome = o
}

// Calls returns the API requests answered so far.
func (s *Server) Calls() []Call {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.calls)
}

// CallCount counts the answered requests of one operation.
func (s *Server) CallCount(operation string) int {
	n := 0
	for _, c := range s.Calls() {
		if c.Operation == operation {
			n++
		}
	}
	return n
}

// Downloads counts download requests (all of them, answered or refused).
func (s *Server) Downloads() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.downloads {
		n += c
	}
	return n
}

// CreateRequests returns the JSON bodies CreateFunction received.
func (s *Server) CreateRequests() []json.RawMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.requests)
}

// CodeSha256 is Lambda's digest of a zip: base64 of the raw SHA-256.
func CodeSha256(b []byte) string {
	sum := sha256.Sum256(b)
	return base64.StdEncoding.EncodeToString(sum[:])
}

// api wraps an operation handler with signature verification, injected
// failures and the call record.
func (s *Server) api(op string, h func(w http.ResponseWriter, r *http.Request, body []byte, region string) int) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, http.StatusBadRequest, "InvalidRequestContentException", err.Error())
			return
		}
		w.Header().Set("X-Amzn-Requestid", fmt.Sprintf("fake-%d", time.Now().UnixNano()))
		var status int
		var typ, msg string
		creds := aws.Credentials{AccessKeyID: s.opts.AccessKeyID, SecretAccessKey: s.opts.SecretAccessKey}
		scope, f := sigv4check.Verify(r, body, creds, "lambda")
		region := scope.Region
		if f != nil {
			status, typ, msg = f.Status, f.Type, f.Message
		} else {
			s.mu.Lock()
			fail, ok := s.failures[op]
			s.mu.Unlock()
			if ok {
				status, typ, msg = fail.Status, fail.Type, fail.Message
			}
		}
		if status != 0 {
			writeError(w, status, typ, msg)
		} else {
			status = h(w, r, body, region)
		}
		s.mu.Lock()
		s.calls = append(s.calls, Call{Operation: op, Region: region, Method: r.Method, Path: r.URL.Path, Query: r.URL.Query(), Status: status})
		s.mu.Unlock()
	}
}

// writeError answers in the shape of Lambda's REST-JSON errors: the type in
// x-amzn-ErrorType; Lambda's own exceptions carry {"Type","Message"}, the
// authentication layer and input validation a bare lower-case "message",
// AccessDenied a bare "Message".
func writeError(w http.ResponseWriter, status int, typ, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-Errortype", typ)
	w.WriteHeader(status)
	var body map[string]string
	switch typ {
	case "MissingAuthenticationTokenException", "IncompleteSignatureException", "InvalidSignatureException",
		"UnrecognizedClientException", "ValidationException", "UnknownOperationException":
		body = map[string]string{"message": msg}
	case "AccessDeniedException":
		body = map[string]string{"Message": msg}
	default:
		kind := "User"
		if status >= 500 {
			kind = "Service"
		}
		body = map[string]string{"Type": kind, "Message": msg}
	}
	json.NewEncoder(w).Encode(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) int {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
	return status
}

func errorStatus(w http.ResponseWriter, status int, typ, msg string) int {
	writeError(w, status, typ, msg)
	return status
}

// splitFunctionName accepts a name, NAME:QUALIFIER, a full ARN
// (optionally qualified) or a partial ARN ACCOUNT:function:NAME[:QUALIFIER].
func splitFunctionName(s string) (name, qualifier string) {
	parts := strings.Split(s, ":")
	switch {
	case len(parts) >= 7 && parts[0] == "arn" && parts[5] == "function":
		name = parts[6]
		if len(parts) > 7 {
			qualifier = parts[7]
		}
	case len(parts) >= 3 && parts[1] == "function":
		name = parts[2]
		if len(parts) > 3 {
			qualifier = parts[3]
		}
	default:
		name = parts[0]
		if len(parts) > 1 {
			qualifier = parts[1]
		}
	}
	return name, qualifier
}

func (s *Server) functionARN(f *Function) string {
	return fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", f.Region, s.opts.Account, f.Name)
}

// configuration renders a FunctionConfiguration. Caller holds s.mu.
func (s *Server) configuration(f *Function, version string) map[string]any {
	arch := f.Architectures
	if len(arch) == 0 {
		arch = []string{"x86_64"}
	}
	arn := s.functionARN(f)
	if version != "$LATEST" {
		arn += ":" + version
	}
	c := map[string]any{
		"FunctionName":     f.Name,
		"FunctionArn":      arn,
		"Role":             f.Role,
		"CodeSize":         len(f.Code),
		"CodeSha256":       CodeSha256(f.Code),
		"Description":      "",
		"Timeout":          3,
		"MemorySize":       128,
		"LastModified":     "2026-11-01T10:00:00.000+0000",
		"Version":          version,
		"PackageType":      f.PackageType,
		"Architectures":    arch,
		"State":            "Active",
		"LastUpdateStatus": "Successful",
		"RevisionId":       "00000000-0000-0000-0000-000000000001",
		"EphemeralStorage": map[string]any{"Size": 512},
		"TracingConfig":    map[string]any{"Mode": "PassThrough"},
		"LoggingConfig":    map[string]any{"LogFormat": "Text", "LogGroup": "/aws/lambda/" + f.Name},
	}
	if f.PackageType == "Zip" {
		c["Runtime"], c["Handler"] = f.Runtime, f.Handler
	} else {
		c["CodeSha256"] = CodeSha256([]byte(f.ImageUri))
	}
	if len(f.Layers) > 0 {
		var ls []map[string]any
		for _, arn := range f.Layers {
			l := map[string]any{"Arn": arn}
			if known, ok := s.layers[arn]; ok {
				l["CodeSize"] = len(known.Zip)
			}
			ls = append(ls, l)
		}
		c["Layers"] = ls
	}
	if len(f.Environment) > 0 {
		c["Environment"] = map[string]any{"Variables": f.Environment}
	}
	maps.Copy(c, f.Config)
	return c
}

func (s *Server) lookupFunction(pathName, queryQualifier string) (*Function, string, string) {
	name, qualifier := splitFunctionName(pathName)
	if queryQualifier != "" {
		qualifier = queryQualifier
	}
	f, ok := s.functions[name]
	if !ok {
		return nil, "", fmt.Sprintf("Function not found: arn:aws:lambda:us-east-1:%s:function:%s", s.opts.Account, name)
	}
	version := "$LATEST"
	if qualifier != "" && qualifier != "$LATEST" {
		v, ok := f.Qualifiers[qualifier]
		if !ok {
			return nil, "", fmt.Sprintf("Function not found: %s:%s", s.functionARN(f), qualifier)
		}
		version = v
	}
	return f, version, ""
}

func (s *Server) getFunction(w http.ResponseWriter, r *http.Request, _ []byte, _ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, _ := splitFunctionName(r.PathValue("name"))
	if c, ok := s.created[name]; ok {
		return writeJSON(w, http.StatusOK, map[string]any{"Configuration": c.poll(),
			"Code": map[string]any{"RepositoryType": "ECR", "ImageUri": c.imageURI, "ResolvedImageUri": c.imageURI}})
	}
	f, version, notFound := s.lookupFunction(r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	if f == nil {
		return errorStatus(w, http.StatusNotFound, "ResourceNotFoundException", notFound)
	}
	code := map[string]any{}
	if f.PackageType == "Zip" {
		code["RepositoryType"] = "S3"
		code["Location"] = s.presign("function", f.Name)
	} else {
		code["RepositoryType"] = "ECR"
		code["ImageUri"] = f.ImageUri
		code["ResolvedImageUri"] = f.ImageUri
	}
	out := map[string]any{"Configuration": s.configuration(f, version), "Code": code}
	if len(f.Tags) > 0 {
		out["Tags"] = f.Tags
	}
	return writeJSON(w, http.StatusOK, out)
}

func (s *Server) getFunctionConfiguration(w http.ResponseWriter, r *http.Request, _ []byte, _ string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	name, _ := splitFunctionName(r.PathValue("name"))
	if c, ok := s.created[name]; ok {
		return writeJSON(w, http.StatusOK, c.poll())
	}
	f, version, notFound := s.lookupFunction(r.PathValue("name"), r.URL.Query().Get("Qualifier"))
	if f == nil {
		return errorStatus(w, http.StatusNotFound, "ResourceNotFoundException", notFound)
	}
	return writeJSON(w, http.StatusOK, s.configuration(f, version))
}

func (s *Server) getLayerVersionByArn(w http.ResponseWriter, r *http.Request, _ []byte, _ string) int {
	q := r.URL.Query()
	if q.Get("find") != "LayerVersion" {
		return errorStatus(w, http.StatusBadRequest, "InvalidParameterValueException", "fakelambda: only find=LayerVersion is served")
	}
	arn := q.Get("Arn")
	if !layerVersionArnRE.MatchString(arn) {
		return errorStatus(w, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value '%s' at 'arn' failed to satisfy constraint: Member must satisfy regular expression pattern", arn))
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	l, ok := s.layers[arn]
	if !ok {
		return errorStatus(w, http.StatusNotFound, "ResourceNotFoundException", "The resource you requested does not exist.")
	}
	i := strings.LastIndex(arn, ":")
	version, _ := strconv.Atoi(arn[i+1:])
	out := map[string]any{
		"Content": map[string]any{
			"Location":   s.presign("layer", arn),
			"CodeSha256": CodeSha256(l.Zip),
			"CodeSize":   len(l.Zip),
		},
		"LayerArn":        arn[:i],
		"LayerVersionArn": arn,
		"Version":         version,
		"Description":     "",
		"CreatedDate":     "2026-11-01T10:00:00.000+0000",
	}
	if len(l.CompatibleRuntimes) > 0 {
		out["CompatibleRuntimes"] = l.CompatibleRuntimes
	}
	if len(l.CompatibleArchitectures) > 0 {
		out["CompatibleArchitectures"] = l.CompatibleArchitectures
	}
	return writeJSON(w, http.StatusOK, out)
}

// listLayerVersions answers ListLayerVersions: the versions the server
// holds of one layer, newest first, in pages of MaxItems (1-50, default 50)
// continued by an opaque NextMarker. The layer is named by its ARN or, in
// the caller's account and the request's region, by its name. A layer with
// no version is an empty list.
func (s *Server) listLayerVersions(w http.ResponseWriter, r *http.Request, _ []byte, region string) int {
	name := r.PathValue("name")
	q := r.URL.Query()
	if len(name) > 140 || !layerNameRE.MatchString(name) {
		return errorStatus(w, http.StatusBadRequest, "ValidationException",
			fmt.Sprintf("1 validation error detected: Value '%s' at 'layerName' failed to satisfy constraint: Member must satisfy regular expression pattern", name))
	}
	limit := 50
	if v := q.Get("MaxItems"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 1 || n > 50 {
			return errorStatus(w, http.StatusBadRequest, "ValidationException",
				fmt.Sprintf("1 validation error detected: Value '%s' at 'maxItems' failed to satisfy constraint: Member must have value between 1 and 50", v))
		}
		limit = n
	}
	layer := name
	if !strings.HasPrefix(name, "arn:") {
		if region == "" {
			region = "us-east-1"
		}
		layer = fmt.Sprintf("arn:aws:lambda:%s:%s:layer:%s", region, s.opts.Account, name)
	}
	type version struct {
		n int64
		l *Layer
	}
	s.mu.Lock()
	var vs []version
	for arn, l := range s.layers {
		rest, ok := strings.CutPrefix(arn, layer+":")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(rest, 10, 64)
		if err != nil {
			continue
		}
		if rt := q.Get("CompatibleRuntime"); rt != "" && !slices.Contains(l.CompatibleRuntimes, rt) {
			continue
		}
		if a := q.Get("CompatibleArchitecture"); a != "" && !slices.Contains(l.CompatibleArchitectures, a) {
			continue
		}
		vs = append(vs, version{n, l})
	}
	s.mu.Unlock()
	slices.SortFunc(vs, func(a, b version) int { return cmp.Compare(b.n, a.n) })
	if m := q.Get("Marker"); m != "" {
		after, err := parseMarker(m)
		if err != nil {
			return errorStatus(w, http.StatusBadRequest, "InvalidParameterValueException", "Invalid marker: "+m)
		}
		i := slices.IndexFunc(vs, func(v version) bool { return v.n < after })
		if i < 0 {
			i = len(vs)
		}
		vs = vs[i:]
	}
	items := []map[string]any{}
	for i, v := range vs {
		if i == limit {
			break
		}
		it := map[string]any{
			"LayerVersionArn": fmt.Sprintf("%s:%d", layer, v.n),
			"Version":         v.n,
			"Description":     "",
			"CreatedDate":     "2026-11-01T10:00:00.000+0000",
		}
		if len(v.l.CompatibleRuntimes) > 0 {
			it["CompatibleRuntimes"] = v.l.CompatibleRuntimes
		}
		if len(v.l.CompatibleArchitectures) > 0 {
			it["CompatibleArchitectures"] = v.l.CompatibleArchitectures
		}
		items = append(items, it)
	}
	out := map[string]any{"LayerVersions": items}
	if len(vs) > limit {
		out["NextMarker"] = base64.StdEncoding.EncodeToString([]byte("after:" + strconv.FormatInt(vs[limit-1].n, 10)))
	}
	return writeJSON(w, http.StatusOK, out)
}

// parseMarker reads a NextMarker listLayerVersions made: the version the
// next page starts below.
func parseMarker(m string) (int64, error) {
	b, err := base64.StdEncoding.DecodeString(m)
	if err != nil {
		return 0, err
	}
	rest, ok := strings.CutPrefix(string(b), "after:")
	if !ok {
		return 0, fmt.Errorf("not a marker")
	}
	return strconv.ParseInt(rest, 10, 64)
}

// layerNameRE is the LayerName pattern of the Lambda API model: a layer
// ARN (no version) or a name.
var layerNameRE = regexp.MustCompile(`^((arn:[a-zA-Z0-9-]+:lambda:[a-zA-Z0-9-]+:\d{12}:layer:[a-zA-Z0-9-_]+)|[a-zA-Z0-9-_]+)$`)

// layerVersionArnRE is the LayerVersionArn pattern of the Lambda API model.
var layerVersionArnRE = regexp.MustCompile(`^arn:[a-zA-Z0-9-]+:lambda:[a-z]{2}((-gov)|(-iso([a-z]?)))?-[a-z]+-\d{1}:\d{12}:layer:[a-zA-Z0-9-_]+:[0-9]+$`)

var imageOnlyRefused = []string{"Handler", "Runtime", "Layers"}

func (s *Server) createFunction(w http.ResponseWriter, r *http.Request, body []byte, region string) int {
	var in map[string]any
	if err := json.Unmarshal(body, &in); err != nil {
		return errorStatus(w, http.StatusBadRequest, "InvalidRequestContentException", "Could not parse request body into json: "+err.Error())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.requests = append(s.requests, json.RawMessage(body))
	name, _ := in["FunctionName"].(string)
	role, _ := in["Role"].(string)
	code, _ := in["Code"].(map[string]any)
	imageURI, _ := code["ImageUri"].(string)
	switch {
	case name == "":
		return errorStatus(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'functionName' failed to satisfy constraint: Member must not be null")
	case role == "":
		return errorStatus(w, http.StatusBadRequest, "ValidationException", "1 validation error detected: Value null at 'role' failed to satisfy constraint: Member must not be null")
	case in["PackageType"] != "Image":
		return errorStatus(w, http.StatusBadRequest, "InvalidParameterValueException", "fakelambda serves image functions only")
	case imageURI == "":
		return errorStatus(w, http.StatusBadRequest, "InvalidParameterValueException", "Please provide a source for function code.")
	}
	for _, k := range imageOnlyRefused {
		if _, ok := in[k]; ok {
			return errorStatus(w, http.StatusBadRequest, "InvalidParameterValueException",
				fmt.Sprintf("Please don't provide %s or Runtime or Layers when the intended function PackageType is Image.", k))
		}
	}
	if _, ok := s.functions[name]; ok {
		return errorStatus(w, http.StatusConflict, "ResourceConflictException", "Function already exist: "+name)
	}
	if _, ok := s.created[name]; ok {
		return errorStatus(w, http.StatusConflict, "ResourceConflictException", "Function already exist: "+name)
	}
	cfg := map[string]any{}
	for k, v := range in {
		switch k {
		case "Code", "Tags", "Publish":
		default:
			cfg[k] = v
		}
	}
	if region == "" {
		region = "us-east-1"
	}
	cfg["FunctionArn"] = fmt.Sprintf("arn:aws:lambda:%s:%s:function:%s", region, s.opts.Account, name)
	cfg["Version"] = "$LATEST"
	cfg["State"] = "Pending"
	cfg["StateReason"] = "The function is being created."
	cfg["StateReasonCode"] = "Creating"
	cfg["LastUpdateStatus"] = "InProgress"
	cfg["CodeSha256"] = CodeSha256([]byte(imageURI))
	s.created[name] = &createdFunction{config: cfg, imageURI: imageURI, pending: s.outcome.PendingPolls, outcome: s.outcome}
	return writeJSON(w, http.StatusCreated, cfg)
}

// presign makes a download URL shaped like an S3 presigned URL. Caller holds s.mu.
func (s *Server) presign(kind, key string) string {
	return fmt.Sprintf("%s/download/%s/%s?X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Expires=600&X-Amz-Signature=%064x",
		s.URL, kind, url.PathEscape(key), time.Now().UnixNano())
}

func (s *Server) download(w http.ResponseWriter, r *http.Request) {
	kind, key := r.PathValue("kind"), r.PathValue("key")
	s.mu.Lock()
	s.downloads[kind+"/"+key]++
	expired := s.expired
	var content []byte
	found := false
	switch kind {
	case "function":
		if f, ok := s.functions[key]; ok {
			content, found = f.Code, true
			if f.ServeCode != nil {
				content = f.ServeCode
			}
		}
	case "layer":
		if l, ok := s.layers[key]; ok {
			content, found = l.Zip, true
			if l.ServeZip != nil {
				content = l.ServeZip
			}
		}
	}
	s.mu.Unlock()

	s3Error := func(status int, code, msg string) {
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		fmt.Fprintf(w, `<?xml version="1.0" encoding="UTF-8"?>`+"\n"+`<Error><Code>%s</Code><Message>%s</Message><RequestId>FAKE</RequestId></Error>`, code, msg)
	}
	switch {
	case r.Header.Get("Authorization") != "":
		s3Error(http.StatusBadRequest, "InvalidArgument", "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, Signature query string parameter or the Authorization header should be specified")
	case r.URL.Query().Get("X-Amz-Signature") == "":
		s3Error(http.StatusForbidden, "AccessDenied", "Access Denied")
	case expired:
		s3Error(http.StatusForbidden, "AccessDenied", "Request has expired")
	case !found:
		s3Error(http.StatusNotFound, "NoSuchKey", "The specified key does not exist.")
	default:
		w.Header().Set("Content-Type", "application/zip")
		w.Header().Set("Content-Length", strconv.Itoa(len(content)))
		w.Write(content)
	}
}
