package testregistry

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestStartPlainAndTLSAuth(t *testing.T) {
	tests := []struct {
		name string
		opts Options
		want int
	}{
		{"plain", Options{}, http.StatusOK},
		{"tls+auth", Options{TLS: true, Username: "AWS", Password: "s3cret"}, http.StatusUnauthorized},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := Start(t, tc.opts)
			resp, err := s.Client().Get(s.URL() + "/v2/")
			require.NoError(t, err)
			resp.Body.Close()
			assert.Equal(t, tc.want, resp.StatusCode)
			if tc.opts.Username != "" {
				req, _ := http.NewRequest(http.MethodGet, s.URL()+"/v2/", nil)
				req.SetBasicAuth(tc.opts.Username, tc.opts.Password)
				resp, err := s.Client().Do(req)
				require.NoError(t, err)
				resp.Body.Close()
				assert.Equal(t, http.StatusOK, resp.StatusCode)
			}
			reqs := s.Requests(t)
			require.NotEmpty(t, reqs)
			assert.Equal(t, "GET", reqs[0].Method)
			assert.Equal(t, "/v2/", reqs[0].Path)
		})
	}
}
