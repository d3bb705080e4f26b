package registry

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestParseTag(t *testing.T) {
	tests := []struct {
		ref    string
		noHost bool // refused: names no registry host
		bad    bool // refused: not a reference
	}{
		{ref: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1"},
		{ref: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/orders"}, // :latest implied
		{ref: "localhost/orders:v1"},
		{ref: "localhost:5000/orders:v1"},
		{ref: "127.0.0.1:5000/orders:v1"},
		{ref: "docker.io/library/orders:v1"}, // Docker Hub, written out
		{ref: "ghcr.io/acme/orders:v1"},
		{ref: "myfunc:latest", noHost: true},
		{ref: "myfunc", noHost: true},
		{ref: "acme/myfunc:latest", noHost: true}, // "acme" is a Docker Hub user, not a host
		{ref: "UPPER/case:x", bad: true},
		{ref: "", bad: true},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			tag, err := ParseTag(tt.ref)
			switch {
			case tt.noHost:
				require.ErrorIs(t, err, ErrNoRegistryHost)
				assert.Contains(t, err.Error(), `tag "`+tt.ref+`"`)
				assert.Contains(t, err.Error(), "index.docker.io/", "says where it would have gone")
			case tt.bad:
				require.Error(t, err)
				assert.NotErrorIs(t, err, ErrNoRegistryHost)
			default:
				require.NoError(t, err)
				assert.NotEmpty(t, tag.RegistryStr())
			}
		})
	}
}

func TestIsPrivateECR(t *testing.T) {
	for ref, want := range map[string]bool{
		"123456789012.dkr.ecr.eu-west-1.amazonaws.com/orders:v1":     true,
		"123456789012.dkr-ecr.eu-west-1.on.aws/orders:v1":            true, // dual-stack
		"123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/orders:v1": true,
		"public.ecr.aws/acme/orders:v1":                              false, // Lambda cannot run images from ECR Public
		"127.0.0.1:5000/orders:v1":                                   false,
		"docker.io/library/orders:v1":                                false,
		"myfunc:latest":                                              false,
		"not a reference":                                            false,
	} {
		assert.Equal(t, want, IsPrivateECR(ref), ref)
	}
}
