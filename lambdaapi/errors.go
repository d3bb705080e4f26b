package lambdaapi

import (
	"errors"
	"fmt"

	"github.com/aws/smithy-go"
)

// Sentinel errors, matched with errors.Is. Every error this package returns
// that fits one of them wraps it, so the CLI can add a hint without parsing
// messages.
var (
	// ErrAccessDenied: the caller's credentials lack the IAM action the
	// *APIError names.
	ErrAccessDenied = errors.New("access denied")
	// ErrNotFound: the function, qualifier or layer version does not exist
	// (or is not visible to the caller in that region).
	ErrNotFound = errors.New("not found")
	// ErrChecksumMismatch: a downloaded zip does not match the CodeSha256 or
	// CodeSize Lambda reported; nothing was kept.
	ErrChecksumMismatch = errors.New("checksum mismatch")
	// ErrURLExpired: the presigned download URL was refused (HTTP 403). The
	// URLs Lambda hands out are valid for 10 minutes; running again fetches a
	// fresh one.
	ErrURLExpired = errors.New("download URL expired or refused")
	// ErrNotZipFunction: the function is not PackageType Zip, so there is
	// nothing to migrate.
	ErrNotZipFunction = errors.New("not a zip function")
	// ErrFunctionFailed: a created function went to State Failed.
	ErrFunctionFailed = errors.New("function failed to become active")
)

// APIError is a failed Lambda API call. It keeps AWS's code and message and
// names the IAM action the call needs, because "access denied" without the
// action is the question every user asks next.
type APIError struct {
	// Operation is the API operation, e.g. "GetLayerVersionByArn".
	Operation string
	// Action is the IAM action the operation is authorised by, e.g.
	// "lambda:GetLayerVersion".
	Action string
	// Subject is what the call was about: a function name or a layer ARN.
	Subject string
	// Code and Message are AWS's error code and message.
	Code    string
	Message string
	// Err is the SDK's error.
	Err error
}

func (e *APIError) Error() string {
	var hint string
	switch {
	case errors.Is(e, ErrAccessDenied):
		hint = fmt.Sprintf(" (the credentials need IAM permission %s)", e.Action)
	case errors.Is(e, ErrNotFound):
		hint = " (does it exist in that region and account, and is the version right?)"
	}
	msg := e.Message
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("lambdaapi: %s %q: %s: %s%s", e.Operation, e.Subject, e.Code, msg, hint)
}

func (e *APIError) Unwrap() error { return e.Err }

// Is maps AWS error codes onto the package's sentinels.
func (e *APIError) Is(target error) bool {
	switch target {
	case ErrAccessDenied:
		return e.Code == "AccessDeniedException" || e.Code == "AccessDenied"
	case ErrNotFound:
		return e.Code == "ResourceNotFoundException"
	}
	return false
}

// apiError wraps an SDK error from operation op (authorised by IAM action
// action) about subject. Errors that are not API errors (network, context)
// are wrapped with the same subject.
func apiError(op, action, subject string, err error) error {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return fmt.Errorf("lambdaapi: %s %q: %w", op, subject, err)
	}
	out := &APIError{Operation: op, Action: action, Subject: subject, Code: ae.ErrorCode(), Message: ae.ErrorMessage(), Err: err}
	return out
}

// ChecksumError reports a download that does not match what Lambda said it
// should be.
type ChecksumError struct {
	// Subject names the download: a layer version ARN or a function.
	Subject string
	// What is "CodeSha256" or "CodeSize".
	What     string
	Expected string
	Got      string
}

func (e *ChecksumError) Error() string {
	return fmt.Sprintf("lambdaapi: download of %s: %s mismatch: Lambda reports %s, downloaded %s; the file was discarded",
		e.Subject, e.What, e.Expected, e.Got)
}

func (e *ChecksumError) Is(target error) bool { return target == ErrChecksumMismatch }
