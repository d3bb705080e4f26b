package main

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// commandLines returns the lambda-oci command lines in a shell script:
// backslash continuations joined, each line starting at "lambda-oci ".
func commandLines(script string) []string {
	script = strings.ReplaceAll(script, "\\\n", " ")
	var out []string
	for _, line := range strings.Split(script, "\n") {
		line = strings.TrimSpace(line)
		line = strings.TrimPrefix(line, "$ ")
		if strings.HasPrefix(line, "lambda-oci ") || line == "lambda-oci" {
			out = append(out, line)
		}
	}
	return out
}

// shellWords splits a command line the way sh would for our purposes:
// quotes group, and the words end at a pipe, redirection, ; or &&.
func shellWords(line string) []string {
	var words []string
	var cur strings.Builder
	inWord := false
	var quote rune
	depth := 0 // $( ... ) nesting, kept inside the word
	for _, r := range line {
		switch {
		case quote != 0:
			if r == quote {
				quote = 0
			} else {
				cur.WriteRune(r)
			}
		case r == '\'' || r == '"':
			quote, inWord = r, true
		case depth == 0 && (r == ' ' || r == '\t'):
			if inWord {
				words = append(words, cur.String())
				cur.Reset()
				inWord = false
			}
		case depth == 0 && !inWord && strings.ContainsRune("|>;&#", r):
			return words
		default:
			if r == '(' && strings.HasSuffix(cur.String(), "$") {
				depth++
			} else if r == ')' && depth > 0 {
				depth--
			}
			cur.WriteRune(r)
			inWord = true
		}
	}
	if inWord {
		words = append(words, cur.String())
	}
	return words
}

// variable reports whether a word is filled in by the shell or the CI.
var variable = regexp.MustCompile(`\$|\{\{|[A-Z]+_[A-Z]+`)

// checkCommandLine checks one lambda-oci command line against the real
// command tree: the command exists, every flag exists on it, flags that
// take values have one, and literal --runtime and --arch values are known.
func checkCommandLine(root *cobra.Command, line string) []string {
	words := shellWords(line)
	if len(words) == 0 || words[0] != "lambda-oci" {
		return []string{"not a lambda-oci command line"}
	}
	args := words[1:]
	cmd, rest, err := root.Find(args)
	if err != nil {
		return []string{err.Error()}
	}
	if cmd == root && len(rest) > 0 && !strings.HasPrefix(rest[0], "-") {
		return []string{fmt.Sprintf("unknown command %q", rest[0])}
	}
	var problems []string
	fs := pflag.NewFlagSet("", pflag.ContinueOnError)
	fs.AddFlagSet(cmd.Flags())
	fs.AddFlagSet(cmd.InheritedFlags())
	if cmd == root {
		fs.Bool("version", false, "")
	}
	for i := 1; i < len(words); i++ {
		w := words[i]
		if !strings.HasPrefix(w, "-") || w == "-" {
			continue
		}
		name, value, hasValue := strings.Cut(strings.TrimLeft(w, "-"), "=")
		var f *pflag.Flag
		if strings.HasPrefix(w, "--") {
			f = fs.Lookup(name)
		} else if len(name) == 1 {
			f = fs.ShorthandLookup(name)
		}
		if f == nil {
			problems = append(problems, fmt.Sprintf("lambda-oci %s has no flag %s", cmd.Name(), w))
			continue
		}
		if f.NoOptDefVal == "" && !hasValue { // takes a value: the next word
			if i+1 >= len(words) || strings.HasPrefix(words[i+1], "--") {
				problems = append(problems, fmt.Sprintf("%s has no value", w))
				continue
			}
			i++
			value = words[i]
		}
		if variable.MatchString(value) {
			continue
		}
		switch f.Name {
		case "runtime":
			if _, err := lambda.LookupRuntime(value); err != nil {
				problems = append(problems, err.Error())
			}
		case "arch":
			if _, err := lambda.ParseArch(value); err != nil {
				problems = append(problems, err.Error())
			}
		}
	}
	return problems
}

// yamlStrings collects every string in a YAML document (where the scripts
// of every CI format live).
func yamlStrings(n *yaml.Node, out *[]string) {
	if n.Kind == yaml.ScalarNode && n.Tag == "!!str" {
		*out = append(*out, n.Value)
	}
	for _, c := range n.Content {
		yamlStrings(c, out)
	}
}

// The CI recipes in examples/ run lambda-oci commands that exist, with
// flags that exist: the docs cannot drift from the CLI.
func TestExamplesUseRealCommands(t *testing.T) {
	root := newRootCmd(&app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }})
	files, err := filepath.Glob("../../examples/*/*.yml") // * matches .gitlab-ci.yml too
	require.NoError(t, err)
	require.Len(t, files, 3, "GitHub Actions, GitLab CI, CodeBuild")
	for _, file := range files {
		t.Run(filepath.Base(filepath.Dir(file)), func(t *testing.T) {
			b, err := os.ReadFile(file)
			require.NoError(t, err)
			var doc yaml.Node
			require.NoError(t, yaml.Unmarshal(b, &doc), "valid YAML")
			var strs []string
			yamlStrings(&doc, &strs)
			var lines []string
			for _, s := range strs {
				lines = append(lines, commandLines(s)...)
			}
			builds := 0
			for _, l := range lines {
				assert.Empty(t, checkCommandLine(root, l), l)
				if strings.HasPrefix(l, "lambda-oci build ") {
					builds++
					// The deploy step reads the pushed digest reference.
					assert.Contains(t, l, "--tag")
					assert.Contains(t, l, "--image-refs image-refs.txt")
				}
			}
			assert.Equal(t, 1, builds, "one build per recipe: %v", lines)
			all := strings.Join(strs, "\n")
			assert.Contains(t, all, "aws lambda update-function-code")
			assert.Contains(t, all, `--image-uri "$(head -n 1 image-refs.txt)"`)
		})
	}
}

// Every command has examples in --help, and they are real command lines.
func TestHelpExamples(t *testing.T) {
	root := newRootCmd(&app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }})
	for _, c := range root.Commands() {
		if !c.IsAvailableCommand() || c.Name() == "help" || c.Name() == "completion" {
			continue
		}
		t.Run(c.Name(), func(t *testing.T) {
			lines := commandLines(c.Example)
			require.NotEmpty(t, lines, "lambda-oci %s --help shows no example", c.Name())
			for _, l := range lines {
				assert.True(t, strings.HasPrefix(l, "lambda-oci "+c.Name()) || l == "lambda-oci --version", l)
				assert.Empty(t, checkCommandLine(root, l), l)
			}
		})
	}
}

// The README's shell blocks use real commands and flags too.
func TestReadmeCommands(t *testing.T) {
	root := newRootCmd(&app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }})
	b, err := os.ReadFile("../../README.md")
	require.NoError(t, err)
	blocks := regexp.MustCompile("(?s)```sh\n(.*?)```").FindAllStringSubmatch(string(b), -1)
	var lines []string
	for _, m := range blocks {
		lines = append(lines, commandLines(m[1])...)
	}
	require.NotEmpty(t, lines)
	for _, l := range lines {
		assert.Empty(t, checkCommandLine(root, l), l)
	}
}

// The checker itself finds what it is there to find.
func TestCheckCommandLine(t *testing.T) {
	root := newRootCmd(&app{stdout: &bytes.Buffer{}, stderr: &bytes.Buffer{}, getenv: func(string) string { return "" }})
	tests := []struct {
		line string
		want string // "" : no problem
	}{
		{`lambda-oci build --runtime python3.12 --arch arm64 --code src --handler app.handler --tag "$REPO:$SHA" --json > out.json`, ""},
		{`lambda-oci build --runtime=python3.12 --code src --handler app.handler --oci-layout out`, ""},
		{`lambda-oci convert layer.zip -o layer.tar.gz`, ""},
		{`lambda-oci --version`, ""},
		{`lambda-oci check "$(cat ref.txt)" --arch x86_64`, ""},
		{`lambda-oci biuld --code src`, `unknown command "biuld"`},
		{`lambda-oci build --platform linux/arm64`, "lambda-oci build has no flag --platform"},
		{`lambda-oci build --runtime python3.99 --code src`, `unknown runtime "python3.99"`},
		{`lambda-oci build --arch sparc`, `architecture "sparc"`},
		{`lambda-oci build --code`, "--code has no value"},
		{`lambda-oci migrate --create-function x --tag $T --json`, ""},
		{`lambda-oci runtimes --all --json | jq .`, ""},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got := strings.Join(checkCommandLine(root, tt.line), "\n")
			if tt.want == "" {
				assert.Empty(t, got)
			} else {
				assert.Contains(t, got, tt.want)
			}
		})
	}
}
