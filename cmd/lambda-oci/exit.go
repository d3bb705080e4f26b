package main

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/cobra"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/lambdaapi"
	"github.com/lambda-oci/lambda-oci/registry"
)

// Exit codes, one scheme for every command (documented in the README).
const (
	exitOK          = 0
	exitFailure     = 1   // could not do it: bad input, unreadable image, I/O
	exitUsage       = 2   // the command line is wrong
	exitNotReady    = 3   // a check refused the image: Lambda would not run it
	exitAuth        = 4   // a registry or AWS refused the credentials or the action
	exitInterrupted = 130 // stopped by a signal (128 + SIGINT)
)

// usageError is a command line that cannot be run as written.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// usage marks err (if any) as a usage error.
func usage(err error) error {
	if err == nil {
		return nil
	}
	return &usageError{err}
}

// usageArgs makes an argument-count validator's refusal a usage error.
func usageArgs(v cobra.PositionalArgs) cobra.PositionalArgs {
	return func(cmd *cobra.Command, args []string) error { return usage(v(cmd, args)) }
}

// notReadyError is a check whose verdict is "not Lambda-ready": the
// findings are already printed as the result.
type notReadyError struct{ errors int }

func (e *notReadyError) Error() string {
	return fmt.Sprintf("the image is not Lambda-ready: %d problem(s) Lambda would refuse", e.errors)
}

// authErrors are the kinds that mean "the credentials or permissions".
var authErrors = []error{
	registry.ErrUnauthorized, registry.ErrNoCredentials, registry.ErrExpiredCredentials,
	registry.ErrAccessDenied, lambdaapi.ErrAccessDenied,
}

// exitCode maps a command's error to the process exit code.
func exitCode(ctx context.Context, err error) int {
	if err == nil {
		return exitOK
	}
	if ctx.Err() != nil && errors.Is(err, context.Canceled) {
		return exitInterrupted
	}
	var ue *usageError
	if errors.As(err, &ue) {
		return exitUsage
	}
	var ce *checks.Error
	var nr *notReadyError
	if errors.As(err, &ce) || errors.As(err, &nr) {
		return exitNotReady
	}
	for _, k := range authErrors {
		if errors.Is(err, k) {
			return exitAuth
		}
	}
	return exitFailure
}
