package lambda

import (
	"path"
	"strings"
)

// Paths inside a Lambda image. Absolute, as the container sees them.
const (
	// OptDir is where Lambda extracts layers, in order.
	OptDir = "/opt"
	// DefaultTaskRoot is where the function code goes when the base does not
	// say otherwise through TaskRootEnv.
	DefaultTaskRoot = "/var/task"
	// RuntimeBootstrap is what the AWS base images' entrypoint executes.
	RuntimeBootstrap = "/var/runtime/bootstrap"
	// LangBinDir is where the AWS base images install the language runtime
	// (python3.12, node, ruby, java, dotnet): the base's own files tell the
	// runtime family.
	LangBinDir = "/var/lang/bin"
	// BootstrapName is the custom runtime's executable in a zip function's
	// task root or in a layer (at OptDir).
	BootstrapName = "bootstrap"
)

// TaskRootEnv names the task root in the image environment.
const TaskRootEnv = "LAMBDA_TASK_ROOT"

// ZipBootstraps are where Lambda looks for a custom runtime's bootstrap in
// a zip function, in order: the task root, then the layers. An image's
// entrypoint runs RuntimeBootstrap instead, so a migrated function needs a
// link from there to the first of these that exists.
func ZipBootstraps(taskRoot string) []string {
	return []string{path.Join(taskRoot, BootstrapName), path.Join(OptDir, BootstrapName)}
}

// Rel is p without its leading slash: the form tar entry names take
// ("/opt" -> "opt").
func Rel(p string) string { return strings.TrimPrefix(path.Clean("/"+p), "/") }
