package registry

import (
	"errors"
	"fmt"
)

// Sentinel kinds, matched with errors.Is. The concrete error is *Error,
// which keeps the registry's or AWS's own message (errors.As).
var (
	// ErrRepositoryNotFound: the target repository does not exist (ECR
	// NAME_UNKNOWN / RepositoryNotFoundException) and was not created.
	ErrRepositoryNotFound = errors.New("repository not found")
	// ErrUnauthorized: the registry refused the credentials (401/403).
	ErrUnauthorized = errors.New("unauthorized")
	// ErrTagImmutable: the tag exists with another manifest in a
	// repository with immutable tags. The image was pushed by digest.
	ErrTagImmutable = errors.New("tag is immutable")
	// ErrNoCredentials: the AWS default credential chain found nothing.
	ErrNoCredentials = errors.New("no AWS credentials found")
	// ErrExpiredCredentials: AWS rejected the credentials as expired.
	ErrExpiredCredentials = errors.New("AWS credentials expired")
	// ErrAccessDenied: an AWS API call was denied by IAM (the message
	// names the action).
	ErrAccessDenied = errors.New("AWS access denied")
	// ErrBaseNotFound: the base reference names nothing (no such layout,
	// tag or manifest).
	ErrBaseNotFound = errors.New("base image not found")
)

// Error is a registry or ECR failure of a known kind.
type Error struct {
	// Kind is one of the Err* sentinels above.
	Kind error
	// Op says what was being done ("pushing", "GetAuthorizationToken").
	Op string
	// Ref is the reference, repository or registry concerned.
	Ref string
	// PushedRef is set for ErrTagImmutable: REPO@sha256:… that was pushed.
	PushedRef string
	// Err is the underlying registry/AWS error (its message is kept).
	Err error
}

func (e *Error) Error() string {
	msg := fmt.Sprintf("%s %s: %v", e.Op, e.Ref, e.Kind)
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.PushedRef != "" {
		msg += " (pushed by digest: " + e.PushedRef + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports the kind, so errors.Is(err, ErrTagImmutable) works through
// any %w wrapping.
func (e *Error) Is(target error) bool { return target == e.Kind }
