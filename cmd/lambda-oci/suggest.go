package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/lambda-oci/lambda-oci/internal/suggest"
)

// flagAliases are flags users bring from other tools (docker, sam, the
// AWS CLI): they are far from ours by spelling, so they are named here.
var flagAliases = map[string]string{
	"platform":      "arch",     // docker build --platform linux/arm64
	"architecture":  "arch",     // aws lambda --architectures
	"architectures": "arch",     //
	"function-name": "function", // aws lambda --function-name
	"image-uri":     "tag",      // aws lambda --image-uri
	"zip-file":      "code",     // aws lambda --zip-file
}

// suggestFlag adds the flag the user probably meant to an unknown-flag
// error: an alias from another tool, else the nearest spelling.
func suggestFlag(cmd *cobra.Command, err error) error {
	var ne *pflag.NotExistError
	if !errors.As(err, &ne) || ne.GetSpecifiedName() == "" {
		return err
	}
	typed := ne.GetSpecifiedName()
	if alias, ok := flagAliases[typed]; ok && cmd.Flags().Lookup(alias) != nil {
		return fmt.Errorf("%w (lambda-oci %s takes --%s)", err, cmd.Name(), alias)
	}
	var names []string
	cmd.Flags().VisitAll(func(f *pflag.Flag) {
		if !f.Hidden {
			names = append(names, f.Name)
		}
	})
	if near := suggest.Nearest(typed, names, 2); len(near) > 0 {
		return fmt.Errorf("%w; did you mean %s?", err, "--"+strings.Join(near, " or --"))
	}
	return err
}

// unknownCommand names the command the user probably meant.
func unknownCommand(root *cobra.Command, typed string) error {
	msg := fmt.Sprintf("unknown command %q", typed)
	var names []string
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() {
			names = append(names, c.Name())
		}
	}
	if near := suggest.Nearest(typed, names, 2); len(near) > 0 {
		msg += "; did you mean " + strings.Join(near, " or ") + "?"
	}
	return errors.New(msg + " (see lambda-oci --help)")
}
