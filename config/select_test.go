package config

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSelect(t *testing.T) {
	f := &File{Path: "lambda-oci.yaml", Functions: []Function{{Name: "a"}, {Name: "b"}, {Name: "c"}}}
	all, err := f.Select(nil)
	require.NoError(t, err)
	assert.Len(t, all, 3)
	some, err := f.Select([]string{"c", "a"})
	require.NoError(t, err)
	assert.Equal(t, []string{"a", "c"}, []string{some[0].Name, some[1].Name}, "file order")
	_, err = f.Select([]string{"d"})
	require.Error(t, err)
	assert.Equal(t, "d: lambda-oci.yaml has no such function (functions: a, b, c)", err.Error())
}
