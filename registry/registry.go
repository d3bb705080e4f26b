// Package registry is the only package that talks to registries and to ECR:
// it parses references, builds the keychain (ECR, ECR Public, docker config,
// anonymous), fetches bases (registry refs and oci:PATH[:TAG] layouts), pushes
// with retries and bounded concurrency. Writing OCI layouts and docker
// tarballs is package publish's job. Failures come back as typed errors (see errors.go).
//
// API CONTRACT (other packages code against this; keep signatures stable):
//
//	type Base struct { Ref string; Index v1.ImageIndex; Image v1.Image } // exactly one of Index/Image
//	func FetchBase(ctx context.Context, ref string, opts Options) (*Base, error) // "oci:PATH[:TAG]" or a registry ref
//	func Push(ctx context.Context, img v1.Image, tags []string, opts Options) (*PushResult, error)
//	func NewUploader(tags []string, opts Options) (*Uploader, error) // Push in two steps:
//	func (*Uploader) Upload(ctx context.Context, l v1.Layer) error   //   blobs while the image is built,
//	func (*Uploader) Push(ctx context.Context, img v1.Image) (*PushResult, error) // then the rest
//	func NewKeychain(opts Options) authn.Keychain          // the default chain, to share across calls
//
// Errors: *Error with Kind one of ErrRepositoryNotFound, ErrUnauthorized,
// ErrTagImmutable (PushedRef set), ErrNoCredentials, ErrExpiredCredentials,
// ErrAccessDenied, ErrBaseNotFound; match with errors.Is, read with errors.As.
// Also plain sentinels: ErrCredentialHelper (a docker credential helper
// failed; its output is never shown) and ErrDigestMismatch (a layout blob
// does not match its digest).
//
// Tests reach a stand-in ECR (internal/fakeecr) through the SDK's endpoint
// settings (AWS_ENDPOINT_URL_ECR) and Options.RegistryAuth = AuthECR.
package registry
