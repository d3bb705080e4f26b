package lambda

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// standIns are the directories whose code plays AWS's part — fake AWS
// services and generators of Lambda-like base images — and so must spell
// Lambda's facts as AWS does, independently of this package (a test
// against a fake built from our own constants could not catch a wrong
// constant).
var standIns = []string{"internal/fakeecr", "internal/fakelambda", "internal/basegen", "internal/e2e"}

// pathFact matches a Lambda path spelled out: /opt, /var/task or
// /var/runtime as a path (not "/options"), or their relative tar forms at
// the start of a string.
var pathFact = regexp.MustCompile(`(^|[^A-Za-z0-9_./-])/(opt|var/task|var/runtime)(/|$|[^A-Za-z0-9_.-])|^(opt|var/task|var/runtime)(/|$)`)

// sizeFact matches the 10 GiB limit spelled as text.
var sizeFact = regexp.MustCompile(`(?i)^10\s*gib$`)

// TestFactsDefinedOnce fails when a Lambda fact — one of its paths, the
// image size limit or a reserved environment variable — is spelled out in
// non-test Go code outside this package: every other package must ask
// this one, so a fact changes in one place.
func TestFactsDefinedOnce(t *testing.T) {
	root, err := filepath.Abs("..")
	require.NoError(t, err)
	reserved := map[string]bool{}
	for _, n := range ReservedEnv() {
		reserved[n] = true
	}
	var violations []string
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if d.IsDir() {
			if rel == "lambda" || strings.HasPrefix(d.Name(), ".") && rel != "." || d.Name() == "testdata" || d.Name() == "out" {
				return filepath.SkipDir
			}
			for _, s := range standIns {
				if rel == s {
					return filepath.SkipDir
				}
			}
			return nil
		}
		if !strings.HasSuffix(p, ".go") || strings.HasSuffix(p, "_test.go") {
			return nil
		}
		src, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f, err := parser.ParseFile(fset, p, src, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		report := func(n ast.Node, what string) {
			violations = append(violations, fset.Position(n.Pos()).String()+": "+what)
		}
		ast.Inspect(f, func(n ast.Node) bool {
			switch x := n.(type) {
			case *ast.BasicLit:
				switch x.Kind {
				case token.STRING:
					s, err := strconv.Unquote(x.Value)
					if err != nil {
						return true
					}
					if pathFact.MatchString(s) {
						report(x, "a Lambda path: "+x.Value)
					}
					if sizeFact.MatchString(strings.TrimSpace(s)) {
						report(x, "the image size limit: "+x.Value)
					}
					name, _, _ := strings.Cut(s, "=")
					if reserved[name] && lambdaOnly(name) {
						report(x, "a reserved environment variable: "+x.Value)
					}
				case token.INT:
					if v, err := strconv.ParseInt(strings.ReplaceAll(x.Value, "_", ""), 0, 64); err == nil && v == MaxImageSize {
						report(x, "the image size limit: "+x.Value)
					}
				}
			case *ast.BinaryExpr:
				l, lok := x.X.(*ast.BasicLit)
				r, rok := x.Y.(*ast.BasicLit)
				if lok && rok && x.Op == token.SHL && l.Value == "10" && r.Value == "30" {
					report(x, "the image size limit: 10 << 30")
				}
			}
			return true
		})
		return nil
	})
	require.NoError(t, err)
	assert.Empty(t, violations, "Lambda facts belong in package lambda; use its constants:\n%s", strings.Join(violations, "\n"))
}

// The checker itself catches what it is meant to catch.
func TestFactPatterns(t *testing.T) {
	for s, want := range map[string]bool{
		"/opt": true, "/opt/python": true, "extracted under /opt": true, "opt/": true, "var/task/app.py": true,
		"/var/task": true, "at /var/runtime/bootstrap": true, "/options": false, "option": false,
		"optional": false, "--opt": false, "adopt/x": false, "/var/tasks": false,
	} {
		assert.Equal(t, want, pathFact.MatchString(s), s)
	}
	assert.True(t, sizeFact.MatchString("10GiB"))
	assert.True(t, sizeFact.MatchString("10 GiB"))
}

// lambdaOnly reports a reserved name that only Lambda gives meaning to
// (_HANDLER, AWS_LAMBDA_*, LAMBDA_*). The others on Lambda's list are the
// AWS SDK's own configuration (AWS_REGION, AWS_ACCESS_KEY_ID, ...), which
// code legitimately reads by name to configure the SDK.
func lambdaOnly(name string) bool {
	return strings.HasPrefix(name, "_") || strings.HasPrefix(name, "AWS_LAMBDA_") || strings.HasPrefix(name, "LAMBDA_") || name == "AWS_EXECUTION_ENV"
}
