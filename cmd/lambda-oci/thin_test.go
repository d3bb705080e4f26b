package main

import (
	"go/ast"
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The CLI stays thin: flags, one library call, rendering. Image assembly,
// layer and archive handling and file-system writes (outputs, rollback)
// belong to the libraries; a command file that reaches for them has grown
// logic a library user would need.
func TestCommandsStayThin(t *testing.T) {
	forbiddenImports := []string{
		"archive/", "compress/",
		"github.com/google/go-containerregistry/pkg/v1/mutate",
		"github.com/google/go-containerregistry/pkg/v1/remote",
		"github.com/google/go-containerregistry/pkg/v1/layout",
		"github.com/google/go-containerregistry/pkg/v1/tarball",
		"github.com/lambda-oci/lambda-oci/image",
		"github.com/klauspost/",
		"github.com/google/renameio",
	}
	forbiddenCalls := map[string]bool{
		"os.Remove": true, "os.RemoveAll": true, "os.Rename": true, "os.MkdirAll": true, "os.Mkdir": true,
		"os.WriteFile": true, "os.Create": true, "os.OpenFile": true, "os.Link": true, "os.Symlink": true,
	}
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	fset := token.NewFileSet()
	var problems []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, parser.SkipObjectResolution)
		require.NoError(t, err)
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, bad := range forbiddenImports {
				if strings.HasPrefix(p, bad) {
					problems = append(problems, fset.Position(imp.Pos()).String()+": imports "+p)
				}
			}
		}
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if !ok {
				return true
			}
			if id, ok := sel.X.(*ast.Ident); ok && forbiddenCalls[id.Name+"."+sel.Sel.Name] {
				problems = append(problems, fset.Position(sel.Pos()).String()+": calls "+id.Name+"."+sel.Sel.Name)
			}
			return true
		})
	}
	assert.Empty(t, problems, "move this logic into a library package")
}
