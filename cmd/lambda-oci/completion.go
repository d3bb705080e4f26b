package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// registerCompletions teaches shell completion (cobra's "completion"
// command) the values our flags take, for every command that has the
// flag: runtime ids, architectures, files and directories.
func registerCompletions(root *cobra.Command) {
	// Candidates are filtered by what is typed: bash filters them again,
	// but zsh and fish match descriptions too.
	runtimeIDs := func(_ *cobra.Command, _ []string, typed string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var ids []cobra.Completion
		for _, r := range lambda.Runtimes() {
			if !r.Deprecated() && strings.HasPrefix(r.ID, typed) {
				ids = append(ids, cobra.CompletionWithDesc(r.ID, r.Image))
			}
		}
		return ids, cobra.ShellCompDirectiveNoFileComp
	}
	archs := func(_ *cobra.Command, _ []string, typed string) ([]cobra.Completion, cobra.ShellCompDirective) {
		var out []cobra.Completion
		for _, a := range lambda.Archs() {
			if !strings.HasPrefix(string(a), typed) {
				continue
			}
			out = append(out, cobra.CompletionWithDesc(string(a), lambda.PlatformString(ptr(a.Platform()))))
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
	files := map[string][]string{ // flag -> extensions (none: any file)
		"code": {"zip"}, "layer": {"zip"}, "tarball": {"tar"}, "image-refs": nil,
		"emit-function-config": {"json"}, "output": {"tar.gz", "tgz"},
	}
	dirs := []string{"oci-layout", "cache-dir"}
	var walk func(*cobra.Command)
	walk = func(c *cobra.Command) {
		fs := c.Flags()
		if fs.Lookup("runtime") != nil {
			_ = c.RegisterFlagCompletionFunc("runtime", runtimeIDs)
		}
		if fs.Lookup("arch") != nil {
			_ = c.RegisterFlagCompletionFunc("arch", archs)
		}
		for name, exts := range files {
			if fs.Lookup(name) != nil {
				_ = c.MarkFlagFilename(name, exts...)
			}
		}
		for _, name := range dirs {
			if fs.Lookup(name) != nil {
				_ = c.MarkFlagDirname(name)
			}
		}
		for _, sub := range c.Commands() {
			walk(sub)
		}
	}
	walk(root)
}

func ptr[T any](v T) *T { return &v }
