package checks

import (
	"fmt"
	"path"
	"strings"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/lambda-oci/lambda-oci/lambda"
)

// TaskRoot is where the function code goes: the image's LAMBDA_TASK_ROOT,
// or lambda.DefaultTaskRoot when it does not set one.
func TaskRoot(cf *v1.ConfigFile) (string, error) {
	root := EnvValue(cf.Config.Env, lambda.TaskRootEnv)
	if root == "" {
		return lambda.DefaultTaskRoot, nil
	}
	if !path.IsAbs(root) {
		return "", fmt.Errorf("%s=%q is not an absolute path", lambda.TaskRootEnv, root)
	}
	return path.Clean(root), nil
}

// EnvValue returns the value of the last KEY=... entry, as a process sees it.
func EnvValue(env []string, key string) string {
	val := ""
	for _, kv := range env {
		if k, v, ok := strings.Cut(kv, "="); ok && k == key {
			val = v
		}
	}
	return val
}
