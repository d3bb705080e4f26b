// Package image composes a Lambda-ready image: it picks the platform out of a
// base, appends the converted layers (/opt in order, then the code at the task
// root), sets the config (CMD = [handler], ENV) and runs Lambda's checks (size,
// media types, handler, architecture of native code) before anything is
// written or pushed. It does no network I/O of its own: the base is handed in
// as a go-containerregistry value.
//
// API CONTRACT (other packages code against this; keep signatures stable):
//
//	func PlatformFor(arch string) (v1.Platform, error)            // "x86_64" -> linux/amd64, "arm64" -> linux/arm64
//	func SelectPlatform(idx v1.ImageIndex, img v1.Image, arch string) (v1.Image, error) // exactly one of idx/img non-nil
//	func TaskRoot(img v1.Image) (string, error)                   // LAMBDA_TASK_ROOT or /var/task
//	func Build(ctx context.Context, opts Options) (*Result, error)
//	func Runtimes() []Runtime; func LookupRuntime(id string) (Runtime, error)
package image
