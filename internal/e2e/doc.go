// Package e2e proves, with software no one here wrote, that the images
// lambda-oci builds behave in Lambda as the zip functions did: a Lambda-like
// base image carrying the AWS Runtime Interface Emulator (aws-lambda-rie) is
// pushed to a real registry server (Debian's docker-registry, TLS + basic
// auth), lambda-oci stacks layers and code on it, podman pulls the result and
// runs it with runc as a non-root user, and an HTTP invoke must come back with
// the handler's answer.
//
// The helpers here (base image, podman runner, fixtures) are used only by the
// tests of this package. Tests skip locally when a system tool is missing and
// fail in CI (LAMBDA_OCI_REQUIRE_TOOLS=1); see ../../../shared/reference/e2e-harness.md
// for the machine quirks the podman settings work around.
//
// Run: go test ./internal/e2e/ -run TestE2E -v (as root, like CI). TestE2E
// sets up the registry, the bases, podman's private storage and the
// lambda-oci binary once and runs every scenario as a subtest; each invoke
// logs its response and its cold (podman run -> first response) and warm
// invoke times.
package e2e
