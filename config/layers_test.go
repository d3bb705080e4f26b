package config

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/build"
	"github.com/lambda-oci/lambda-oci/internal/fakelambda"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
)

const (
	libs1 = "arn:aws:lambda:us-east-1:123456789012:layer:libs:1"
	libs2 = "arn:aws:lambda:us-east-1:123456789012:layer:libs:2"
	libs3 = "arn:aws:lambda:us-east-1:123456789012:layer:libs:3"
	tool5 = "arn:aws:lambda:eu-west-1:210987654321:layer:tool:5"
)

func fn(name string, layers ...string) Function {
	f := Function{Name: name}
	for _, l := range layers {
		f.Spec.Layers = append(f.Spec.Layers, build.Source{Path: l})
	}
	return f
}

func paths(f Function) []string {
	var out []string
	for _, l := range f.Spec.Layers {
		out = append(out, l.Path)
	}
	return out
}

func TestPin(t *testing.T) {
	lock := &Lock{Functions: map[string]LockedFunction{
		"moved": {Layers: []LockedInput{{Source: "/x/a.zip", SHA256: "aa"}, {Source: libs3, Requested: libs1, CodeSha256: "c3"}}},
		"plain": {Layers: []LockedInput{{Source: libs1, CodeSha256: "c1", Digest: "sha256:d1"}}},
	}}
	tests := []struct {
		name      string
		fn        Function
		want      []string
		wantNotes int
	}{
		{"the file names what the lock moved from", fn("moved", "/x/a.zip", libs1), []string{"/x/a.zip", libs3}, 1},
		{"the file was edited since: it wins", fn("moved", "/x/a.zip", libs2), []string{"/x/a.zip", libs2}, 0},
		{"layers reordered: no pin", fn("moved", libs1, "/x/a.zip"), []string{libs1, "/x/a.zip"}, 0},
		{"a layer added after the pinned one", fn("moved", "/x/a.zip", libs1, tool5), []string{"/x/a.zip", libs3, tool5}, 1},
		{"nothing moved", fn("plain", libs1), []string{libs1}, 0},
		{"not in the lock", fn("new", libs1), []string{libs1}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := paths(tt.fn)
			got, notes := lock.Pin(tt.fn)
			assert.Equal(t, tt.want, paths(got))
			assert.Len(t, notes, tt.wantNotes)
			assert.Equal(t, orig, paths(tt.fn), "the file's function is not changed")
		})
	}
}

func TestDiffAcceptsALayerNoBuildHasRecorded(t *testing.T) {
	got := LockedInput{Source: libs3, Requested: libs1, CodeSha256: "c3", Digest: "sha256:d3"}
	moved := LockedFunction{Layers: []LockedInput{{Source: libs3, Requested: libs1, CodeSha256: "c3"}}}
	assert.Empty(t, moved.Diff(LockedFunction{Layers: []LockedInput{got}}))
	// Its bytes are still pinned.
	bad := got
	bad.CodeSha256 = "c4"
	assert.Equal(t, []string{"layer 1 " + libs3 + " CodeSha256 c3 -> c4"}, moved.Diff(LockedFunction{Layers: []LockedInput{bad}}))
	// A recorded digest is compared, and an input without CodeSha256
	// always has its digest compared.
	recorded := LockedFunction{Layers: []LockedInput{{Source: libs3, CodeSha256: "c3", Digest: "sha256:d0"}}}
	assert.Len(t, recorded.Diff(LockedFunction{Layers: []LockedInput{got}}), 1)
	zip := LockedFunction{Code: LockedInput{Source: "code", SHA256: "aa"}}
	assert.Len(t, zip.Diff(LockedFunction{Code: LockedInput{Source: "code", SHA256: "aa", Digest: "sha256:d"}}), 1)
}

func TestUpdateLayers(t *testing.T) {
	fake := fakelambda.New(t, fakelambda.Options{})
	opts := lambdaapi.Options{Region: "us-east-1", Endpoint: fake.URL, Credentials: fake.Credentials()}
	zip3 := []byte("libs 3 zip")
	for _, a := range []string{libs1, libs2} {
		fake.AddLayer(fakelambda.Layer{ARN: a, Zip: []byte(a)})
	}
	fake.AddLayer(fakelambda.Layer{ARN: libs3, Zip: zip3})
	fake.AddLayer(fakelambda.Layer{ARN: tool5, Zip: []byte("tool")})

	lock := &Lock{Functions: map[string]LockedFunction{
		"a":      {BaseDigest: "sha256:b", Layers: []LockedInput{{Source: libs1, CodeSha256: "c1", Digest: "sha256:d1"}, {Source: tool5, CodeSha256: "t5", Digest: "sha256:t"}}},
		"b":      {Layers: []LockedInput{{Source: libs1, CodeSha256: "c1", Digest: "sha256:d1"}}},
		"edited": {Layers: []LockedInput{{Source: libs1, CodeSha256: "c1", Digest: "sha256:d1"}}},
		"zip":    {Layers: []LockedInput{{Source: "a.zip", SHA256: "aa", Digest: "sha256:z"}}},
	}}
	fns := []Function{fn("a", libs1, tool5), fn("b", libs1), fn("edited", libs2), fn("zip", "/x/a.zip"), fn("new", libs1)}
	moves, denied, err := lock.UpdateLayers(context.Background(), fns, opts)
	require.NoError(t, err)
	assert.Empty(t, denied)
	assert.Equal(t, []LayerMove{{"a", libs1, libs3}, {"b", libs1, libs3}}, moves)
	assert.Equal(t, "a: layer "+libs1+" -> "+libs3, moves[0].String())
	assert.Equal(t, LockedInput{Source: libs3, Requested: libs1, CodeSha256: fakelambda.CodeSha256(zip3)}, lock.Functions["a"].Layers[0])
	assert.Equal(t, "sha256:t", lock.Functions["a"].Layers[1].Digest, "the newest already: unchanged")
	assert.Equal(t, "sha256:b", lock.Functions["a"].BaseDigest)
	assert.Equal(t, libs1, lock.Functions["edited"].Layers[0].Source, "a file edited since the build is the next build's to record")
	assert.NotContains(t, lock.Functions, "new")
	assert.Equal(t, 2, fake.CallCount("ListLayerVersions"), "libs and tool, each once")
	listed := map[string]string{}
	for _, c := range fake.Calls() {
		if c.Operation == "ListLayerVersions" {
			listed[c.Path] = c.Region
		}
	}
	assert.Equal(t, map[string]string{
		"/2018-10-31/layers/arn:aws:lambda:us-east-1:123456789012:layer:libs/versions": "us-east-1",
		"/2018-10-31/layers/arn:aws:lambda:eu-west-1:210987654321:layer:tool/versions": "eu-west-1",
	}, listed, "each layer listed by its ARN, signed for its region")
	assert.Zero(t, fake.Downloads())

	// Again: nothing newer. A pinned layer is listed from the lock's version.
	moves, denied, err = lock.UpdateLayers(context.Background(), fns, opts)
	require.NoError(t, err)
	assert.Empty(t, moves)
	assert.Empty(t, denied)

	// A layer the caller may not list (another account's: only
	// lambda:GetLayerVersion can be shared) stays, named in denied, and
	// the others still move.
	fake.AddLayer(fakelambda.Layer{ARN: "arn:aws:lambda:us-east-1:123456789012:layer:libs:4", Zip: []byte("libs 4")})
	fake.Fail("ListLayerVersions", fakelambda.APIError{Status: 403, Type: "AccessDeniedException", Message: "not authorized to perform: lambda:ListLayerVersions"})
	moves, denied, err = lock.UpdateLayers(context.Background(), fns[1:2], opts)
	require.NoError(t, err)
	assert.Empty(t, moves)
	require.Len(t, denied, 1)
	assert.ErrorIs(t, denied[0], lambdaapi.ErrAccessDenied)
	assert.Contains(t, denied[0].Error(), "function b: layer "+libs3)
	assert.Contains(t, denied[0].Error(), "lambda:ListLayerVersions")
	assert.Equal(t, libs3, lock.Functions["b"].Layers[0].Source)

	// Any other failure stops the update.
	fake.Fail("ListLayerVersions", fakelambda.APIError{Status: 500, Type: "ServiceException", Message: "try again"})
	_, _, err = lock.UpdateLayers(context.Background(), fns, opts)
	require.Error(t, err)
	assert.Contains(t, err.Error(), "function a: layer "+libs3)
	assert.Contains(t, err.Error(), "ServiceException")
}
