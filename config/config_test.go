package config

import (
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/build"
)

const good = `# yaml-language-server: $schema=lambda-oci.schema.json
defaults:
  runtime: python3.12
  arch: arm64
  env:
    LOG_LEVEL: info
    STAGE: dev
  tags: ["latest", "${GIT_SHA}"]
functions:
  orders:
    layers:
      - layers/common.zip
      - arn:aws:lambda:us-east-1:123456789012:layer:shared:3
    code: orders
    handler: app.handler
    codeLayers: 1
    env:
      STAGE: prod
  billing:
    base: oci:../bases/python:3.12
    arch: x86_64
    code: billing.zip
    handler: main.run
    maxSize: 2GiB
    tags: ["other.example.com/team/{name}:v1"]
    cacheFrom: ["main", "other.example.com/team/{name}:main"]
`

func TestParse(t *testing.T) {
	env := map[string]string{"GIT_SHA": "abc123", RegistryEnv: "registry.example.com/fns/"}
	f, err := Parse("lambda-oci.yaml", "/src/app", []byte(good), Options{Getenv: func(k string) string { return env[k] }})
	require.NoError(t, err)
	require.Len(t, f.Functions, 2)
	assert.Equal(t, "registry.example.com/fns", f.Registry, "from the environment, trailing slash dropped")

	orders := f.Functions[0]
	assert.Equal(t, "orders", orders.Name)
	assert.Equal(t, 10, orders.Line)
	assert.Equal(t, build.Spec{
		Runtime: "python3.12", Arch: "arm64", Handler: "app.handler",
		Layers: []build.Source{
			{Path: "/src/app/layers/common.zip"},
			{Path: "arn:aws:lambda:us-east-1:123456789012:layer:shared:3"},
		},
		Code:       build.Source{Path: "/src/app/orders"},
		Env:        []string{"LOG_LEVEL=info", "STAGE=prod"},
		CodeLayers: 1,
	}, orders.Spec, "defaults inherited, the function's env wins, sorted")
	assert.Equal(t, []string{"registry.example.com/fns/orders:latest", "registry.example.com/fns/orders:abc123"}, orders.Tags)
	assert.Nil(t, orders.CacheFrom, "default: the build reads its tags")

	billing := f.Functions[1]
	assert.Equal(t, "oci:/src/bases/python:3.12", billing.Spec.Base, "layout path relative to the file")
	assert.Equal(t, "python3.12", billing.Spec.Runtime, "runtime still picks the handler check")
	assert.Equal(t, "x86_64", billing.Spec.Arch)
	assert.Equal(t, int64(2<<30), billing.Spec.MaxSize)
	assert.Zero(t, billing.Spec.CodeLayers, "the default: split when unambiguous")
	assert.Equal(t, []string{"other.example.com/team/billing:v1"}, billing.Tags)
	assert.Equal(t, []string{"registry.example.com/fns/billing:main", "other.example.com/team/billing:main"}, billing.CacheFrom)
}

func TestParseNoRegistry(t *testing.T) {
	f, err := Parse("f.yaml", "/d", []byte("functions:\n  a:\n    runtime: python3.12\n    code: a\n    handler: a.h\n"), Options{Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	assert.Empty(t, f.Functions[0].Tags)
	assert.Contains(t, f.Functions[0].Untagged, RegistryEnv)
}

func TestParseErrorsNameTheLine(t *testing.T) {
	tests := []struct {
		name, doc string
		want      []Problem
	}{
		{"unknown key", "functions:\n  a:\n    runtime: python3.12\n    code: a\n    handlr: a.h\n    handler: a.h\n",
			[]Problem{{Line: 5, Path: "functions.a", Msg: `unknown key "handlr"`}}},
		{"missing field", "functions:\n  a:\n    runtime: python3.12\n    code: a\n",
			[]Problem{{Line: 2, Path: "functions.a", Msg: `missing "handler"`}}},
		{"wrong type", "functions:\n  a:\n    runtime: python3.12\n    code: a\n    handler: a.h\n    layers: x.zip\n",
			[]Problem{{Line: 6, Path: "functions.a.layers", Msg: "want array, got string"}}},
		{"env value not a string", "defaults:\n  env:\n    DEBUG: 1\nfunctions:\n  a: {runtime: python3.12, code: a, handler: a.h}\n",
			[]Problem{{Line: 3, Path: "defaults.env.DEBUG", Msg: "want string, got number"}}},
		{"top-level unknown key", "function:\n  a: {}\n",
			[]Problem{{Line: 1, Path: "", Msg: `missing "functions"`}, {Line: 1, Path: "", Msg: `unknown key "function"`}}},
		{"duplicate key", "functions:\n  a: {runtime: python3.12, code: a, handler: a.h}\n  a: {runtime: python3.12, code: a, handler: a.h}\n",
			[]Problem{{Line: 3, Path: "functions", Msg: `key "a" given twice`}}},
		{"no base", "functions:\n  a:\n    code: a\n    handler: a.h\n",
			[]Problem{{Line: 2, Path: "functions.a", Msg: "no base: set runtime or base here or in defaults"}}},
		{"unset variable in a tag", "defaults:\n  registry: r.example.com\nfunctions:\n  a:\n    runtime: python3.12\n    code: a\n    handler: a.h\n    tags: [\"${NOPE}\"]\n",
			[]Problem{{Line: 4, Path: "functions.a", Msg: `tag "${NOPE}": environment variable NOPE is not set`}}},
		{"bad max size", "functions:\n  a:\n    runtime: python3.12\n    code: a\n    handler: a.h\n    maxSize: 10 parsecs\n",
			[]Problem{{Line: 6, Path: "functions.a.maxSize", Msg: `"10 parsecs": want a positive size such as 10GiB, 500MB or a number of bytes`}}},
		{"code layers", "functions:\n  a:\n    runtime: python3.12\n    code: a\n    handler: a.h\n    codeLayers: 3\n",
			[]Problem{{Line: 6, Path: "functions.a.codeLayers", Msg: "value must be one of 1, 2"}}},
		{"yaml syntax", "functions:\n  a: [\n", []Problem{{Line: 2, Msg: "did not find expected node content"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse("lambda-oci.yaml", "/d", []byte(tt.doc), Options{Getenv: func(string) string { return "" }})
			var ce *Error
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tt.want, ce.Problems)
			assert.Contains(t, err.Error(), "lambda-oci.yaml:")
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse("fns/lambda-oci.yaml", "/d", []byte("functions:\n  a:\n    runtime: python3.12\n    code: a\n    handlr: a.h\n"), Options{})
	require.Error(t, err)
	assert.Equal(t, `config fns/lambda-oci.yaml: 2 problems:
  fns/lambda-oci.yaml:2: functions.a: missing "handler"
  fns/lambda-oci.yaml:5: functions.a: unknown key "handlr"`, err.Error())
}

func TestSchemaIsValidJSONAndCompiles(t *testing.T) {
	var v map[string]any
	require.NoError(t, json.Unmarshal(Schema(), &v))
	_, err := compiled()
	require.NoError(t, err)
}

func TestLoadResolvesAgainstTheFile(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, FileName)
	require.NoError(t, writeFile(p, "functions:\n  a:\n    runtime: python3.12\n    code: src/a\n    handler: a.h\n"))
	f, err := Load(p, Options{Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	assert.Equal(t, filepath.Join(dir, "src/a"), f.Functions[0].Spec.Code.Path)
	_, err = Load(filepath.Join(dir, "missing.yaml"), Options{})
	assert.ErrorContains(t, err, "missing.yaml")
}

// cacheFrom: [] is no registry cache at all, not the default.
func TestParseCacheFromNone(t *testing.T) {
	f, err := Parse("lambda-oci.yaml", "/src", []byte("defaults:\n  registry: r.example.com\n  cacheFrom: []\nfunctions:\n  a:\n    runtime: python3.12\n    code: a\n    handler: a.h\n"), Options{Getenv: func(string) string { return "" }})
	require.NoError(t, err)
	require.NotNil(t, f.Functions[0].CacheFrom)
	require.Empty(t, f.Functions[0].CacheFrom)
}
