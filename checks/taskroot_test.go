package checks

import (
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/internal/basegen"
)

func TestTaskRoot(t *testing.T) {
	base, err := basegen.Image("x86_64")
	require.NoError(t, err)
	bcf, err := base.ConfigFile()
	require.NoError(t, err)
	root, err := TaskRoot(bcf)
	require.NoError(t, err)
	assert.Equal(t, "/var/task", root)

	for _, tc := range []struct{ env, want, err string }{
		{env: "", want: "/var/task"},
		{env: "LAMBDA_TASK_ROOT=/srv/fn/", want: "/srv/fn"},
		{env: "LAMBDA_TASK_ROOT=relative", err: "not an absolute path"},
	} {
		cfg := v1.Config{}
		if tc.env != "" {
			cfg.Env = []string{"PATH=/bin", tc.env}
		}
		got, err := TaskRoot(&v1.ConfigFile{Config: cfg})
		if tc.err != "" {
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.err)
			continue
		}
		require.NoError(t, err)
		assert.Equal(t, tc.want, got)
	}
}
