package lambda

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRuntimeTable(t *testing.T) {
	seen := map[string]bool{}
	all := Runtimes()
	require.NotEmpty(t, all)
	for _, r := range all {
		assert.False(t, seen[r.ID], "duplicate %s", r.ID)
		seen[r.ID] = true
		assert.NotEmpty(t, r.Family, r.ID)
		if r.Deprecated() {
			assert.Empty(t, r.Image, r.ID)
			repl, err := LookupRuntime(r.Replacement)
			require.NoError(t, err, "%s's replacement %s must be a supported runtime", r.ID, r.Replacement)
			assert.False(t, repl.Deprecated())
			continue
		}
		assert.True(t, strings.HasPrefix(r.Image, "public.ecr.aws/lambda/"), r.ID)
		assert.Contains(t, []string{"AL2023", "AL2"}, r.OS, r.ID)
	}
	// Mutating the returned table does not change the next caller's.
	all[0].Image = "evil"
	assert.NotEqual(t, "evil", Runtimes()[0].Image)
}

func TestLookupRuntime(t *testing.T) {
	r, err := LookupRuntime("python3.12")
	require.NoError(t, err)
	assert.Equal(t, "public.ecr.aws/lambda/python:3.12", r.Image)
	assert.Equal(t, Python, r.Family)
	assert.Equal(t, "public.ecr.aws/lambda/python:3.12-arm64", r.BaseRef(ARM64))
	assert.Equal(t, "public.ecr.aws/lambda/python:3.12-x86_64", r.BaseRef(X8664))

	r, err = LookupRuntime("ruby4.0")
	require.NoError(t, err)
	assert.Equal(t, "public.ecr.aws/lambda/ruby:4.0-arm64", r.BaseRef(ARM64))
	assert.Equal(t, Ruby, r.Family)

	r, err = LookupRuntime("provided.al2023")
	require.NoError(t, err)
	assert.Equal(t, "public.ecr.aws/lambda/provided:al2023-x86_64", r.BaseRef(X8664))

	for id, repl := range map[string]string{"go1.x": "provided.al2023", "python3.8": "python3.12", "nodejs18.x": "nodejs22.x", "java8": "java21"} {
		r, err := LookupRuntime(id)
		require.Error(t, err, id)
		assert.ErrorIs(t, err, ErrDeprecatedRuntime)
		assert.Contains(t, err.Error(), "deprecated")
		assert.Contains(t, err.Error(), repl)
		assert.Equal(t, repl, r.Replacement)
		assert.Empty(t, r.BaseRef(X8664))
	}
	_, err = LookupRuntime("cobol1")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "python3.12")
	assert.Contains(t, err.Error(), "any base image")
	assert.NotContains(t, err.Error(), "did you mean", "nothing is near cobol1")
}

func TestLookupRuntimeSuggests(t *testing.T) {
	tests := []struct{ typed, want string }{
		{"pyhton3.12", `did you mean python3.12?`},
		{"python312", `did you mean python3.12?`},
		{"nodejs22", `did you mean nodejs22.x?`},
		{"Python3.13", `did you mean python3.13?`},
		{"provided.al2024", `did you mean provided.al2023?`},
		{"go1x", `did you mean go1.x?`}, // then its deprecation names the replacement
	}
	for _, tt := range tests {
		t.Run(tt.typed, func(t *testing.T) {
			_, err := LookupRuntime(tt.typed)
			require.Error(t, err)
			assert.Contains(t, err.Error(), `unknown runtime "`+tt.typed+`": `+tt.want)
		})
	}
}

func TestFamilyFromRef(t *testing.T) {
	for ref, want := range map[string][2]string{
		"public.ecr.aws/lambda/python:3.12-arm64":             {"python", "3.12"},
		"public.ecr.aws/lambda/nodejs:22":                     {"nodejs", "22"},
		"123.dkr.ecr.eu-west-1.amazonaws.com/lambda/ruby:3.3": {"ruby", ""},
		"public.ecr.aws/lambda/provided:al2023@sha256:abc":    {"provided", ""},
		"public.ecr.aws/lambda/python:3.13-x86_64@sha256:abc": {"python", "3.13"},
		"docker.io/library/python:3.12":                       {"", ""},
		"oci:testdata/base:latest":                            {"", ""},
	} {
		f, v := FamilyFromBaseRef(ref)
		assert.Equal(t, want, [2]string{string(f), v}, ref)
	}
}
