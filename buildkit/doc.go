// Package buildkit builds the same image as package build on a BuildKit
// daemon (buildkitd, local or a remote farm) and has the daemon push it.
//
// The spec is built and checked in-process first (build.Build: the same
// inputs, conversions and Lambda rules), then compiled to LLB: the base
// through llb.Image (an OCI layout or in-hand base through the session),
// each layer this build made handed over as the very blob it made, through
// an OCI store in the session (llb.OCILayout), and llb.Merge, so each Lambda
// layer stays one image layer with the in-process digest. The image
// exporter pushes one manifest in the base's media-type family, gzip layers
// (existing blobs reused, never re-compressed), no attestations, with the
// config the build computed. Registry credentials reach the daemon through
// the session's auth provider, fed by our keychain. Like package build it
// prints nothing: the daemon's progress leaves as Events.
package buildkit
