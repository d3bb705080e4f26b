// Command lambda-oci builds AWS Lambda container images without a Docker
// daemon. The commands are thin: each binds flags into an options struct,
// calls a library function and prints the result (stdout: only the result;
// logs and progress: stderr).
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/spf13/cobra"
)

// app carries the command's I/O so tests can run commands in-process.
type app struct {
	stdout io.Writer
	stderr io.Writer
	getenv func(string) string
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], &app{stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv})
	stop()
	os.Exit(code)
}

// run executes one command line and returns the process exit code.
func run(ctx context.Context, args []string, a *app) int {
	root := newRootCmd(a)
	root.SetArgs(args)
	err := root.ExecuteContext(ctx)
	if err != nil {
		fmt.Fprintln(a.stderr, "lambda-oci: "+describeFailure(ctx, err))
	}
	return exitCode(ctx, err)
}

// describeFailure is describeError, except that a run stopped by a signal
// says so: "context canceled" reads like a bug, not like Ctrl-C.
func describeFailure(ctx context.Context, err error) string {
	if ctx.Err() == nil || !errors.Is(err, context.Canceled) {
		return describeError(err)
	}
	if cause := context.Cause(ctx); cause != nil && cause != context.Canceled {
		return "interrupted (" + cause.Error() + ")"
	}
	return "interrupted"
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:           "lambda-oci",
		Short:         "Build AWS Lambda container images without a Docker daemon",
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       currentVersion(),
	}
	root.SetVersionTemplate("lambda-oci {{.Version}}\n")
	// Every flag the parser refuses is a usage error (exit 2), with the
	// flag the user probably meant.
	root.SetFlagErrorFunc(func(cmd *cobra.Command, err error) error { return usage(suggestFlag(cmd, err)) })
	root.Args = cobra.ArbitraryArgs
	root.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) > 0 {
			return usage(unknownCommand(cmd, args[0]))
		}
		return cmd.Help()
	}
	root.SetOut(a.stdout)
	root.SetErr(a.stderr)
	root.AddCommand(
		newConvertCmd(a),
		newBuildCmd(a),
		newRuntimesCmd(a),
		newMigrateCmd(a),
		newCheckCmd(a),
		newFixCmd(a),
		newRebaseCmd(a),
		newUpdateCmd(a),
		newVersionCmd(a),
	)
	registerCompletions(root)
	return root
}
