package main

import (
	"errors"
	"strings"

	"github.com/lambda-oci/lambda-oci/checks"
	"github.com/lambda-oci/lambda-oci/registry"
)

// errorHints pairs each typed error with what the user can do about it on
// the command line. The error's own line already carries the reason.
var errorHints = []struct {
	kind error
	hint string
}{
	{registry.ErrRepositoryNotFound, "create it first, or pass --create-repository (needs ecr:CreateRepository); check the repository name and region"},
	{registry.ErrTagImmutable, "the repository has immutable tags: push under a new tag, or deploy the digest reference above"},
	{registry.ErrNoCredentials, "configure AWS credentials: AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, AWS_PROFILE, `aws sso login`, or web identity (GitHub Actions: aws-actions/configure-aws-credentials)"},
	{registry.ErrExpiredCredentials, "the AWS session has expired: refresh it (`aws sso login`, or re-run the step that assumes the role)"},
	{registry.ErrAccessDenied, "grant the IAM action named above to this identity (for pushes: ecr:GetAuthorizationToken, ecr:BatchCheckLayerAvailability, ecr:InitiateLayerUpload, ecr:UploadLayerPart, ecr:CompleteLayerUpload, ecr:PutImage)"},
	{registry.ErrUnauthorized, "the credentials were refused: for ECR check the AWS access key, secret or profile and the region (--registry-auth ecr --region R for a custom host); for other registries, `docker login` or a credential helper in ~/.docker/config.json"},
	{registry.ErrNoRegistryHost, "Lambda pulls images only from Amazon ECR: write the registry host out, e.g. --tag ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO:TAG (docker.io/NAME:TAG if Docker Hub is really meant)"},
	{registry.ErrBaseNotFound, "check the base reference; an OCI layout is named oci:PATH[:TAG], TAG matching an org.opencontainers.image.ref.name"},
}

// describeError turns an error into the lines printed on stderr: the error,
// then hint lines for the typed errors the libraries return.
func describeError(err error) string {
	msg := err.Error()
	var hints []string
	for _, h := range errorHints {
		if errors.Is(err, h.kind) {
			hints = append(hints, h.hint)
		}
	}
	var ae *checks.ArchMismatchError
	if errors.As(err, &ae) {
		hints = append(hints, "rebuild them for --arch "+string(ae.Arch)+", or pass --allow-arch-mismatch to build anyway")
	}
	var se *checks.SizeError
	if errors.As(err, &se) {
		hints = append(hints, "trim the largest layers; --max-size sets a lower limit, never a higher one than Lambda's")
	}
	var ce *checks.Error
	if errors.As(err, &ce) {
		for _, f := range ce.Findings {
			if f.Origin == checks.Base && f.Severity == checks.Refuse {
				hints = append(hints, "the base image itself breaks Lambda's rules: use another base, or repair it and pass it as --base")
				break
			}
		}
	}
	for _, h := range hints {
		if !strings.Contains(msg, h) {
			msg += "\n  hint: " + h
		}
	}
	return msg
}
