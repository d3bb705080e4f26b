package build

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/internal/testregistry"
)

// A layer directory whose .pyc Python just compiled (valid for its source)
// builds without the stale-bytecode warning; with NoPycRewrite its .pyc
// keeps the directory's mtime while the layer gets the build's, and the
// warning names the package.
func TestBuildPycRewrite(t *testing.T) {
	testregistry.RequireTool(t, "python3")
	layer := t.TempDir()
	mod := filepath.Join(layer, "python", "helper", "__init__.py")
	require.NoError(t, os.MkdirAll(filepath.Dir(mod), 0o755))
	require.NoError(t, os.WriteFile(mod, []byte("HELP = 1\n"), 0o644))
	cmd := exec.Command("python3", "-m", "py_compile", mod)
	// SOURCE_DATE_EPOCH would make py_compile write a hash-based .pyc.
	cmd.Env = append(os.Environ(), "SOURCE_DATE_EPOCH=")
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "%s", out)

	for _, tc := range []struct {
		name      string
		noRewrite bool
		warn      bool
	}{
		{"rewrite", false, false},
		{"no rewrite", true, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			spec := Spec{BaseImage: baseImage(t, "x86_64"), Arch: "x86_64", Layers: []Source{{Path: layer}},
				Code:    Source{Path: writeDir(t, f("app.py", 0o644, "import helper\ndef handler(e, c):\n    return 1\n"))},
				Handler: "app.handler", Created: fixedTime, NoPycRewrite: tc.noRewrite}
			res, err := Build(context.Background(), spec, Options{CacheDir: t.TempDir()})
			require.NoError(t, err)
			defer res.Close()
			var stale []checks.Finding
			for _, f := range res.Findings {
				if f.Rule == checks.RuleStaleBytecode {
					stale = append(stale, f)
				}
			}
			if !tc.warn {
				assert.Empty(t, stale)
				return
			}
			require.Len(t, stale, 1)
			assert.Contains(t, stale[0].Message, "1 of 1 timestamp-based .pyc files")
			assert.Contains(t, stale[0].Message, "/opt/python/helper (1)")
		})
	}
}
