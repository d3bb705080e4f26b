package lambda

import "slices"

// reservedEnv are the variables Lambda sets itself (AWS "Defined runtime
// environment variables"): a value baked into the image is overwritten, or
// breaks the runtime.
var reservedEnv = []string{
	"_HANDLER", "_X_AMZN_TRACE_ID", "AWS_DEFAULT_REGION", "AWS_REGION", "AWS_EXECUTION_ENV",
	"AWS_LAMBDA_FUNCTION_NAME", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_LAMBDA_FUNCTION_VERSION",
	"AWS_LAMBDA_INITIALIZATION_TYPE", "AWS_LAMBDA_LOG_GROUP_NAME", "AWS_LAMBDA_LOG_STREAM_NAME",
	"AWS_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN",
	"AWS_LAMBDA_RUNTIME_API", TaskRootEnv, "LAMBDA_RUNTIME_DIR",
}

// ReservedEnv returns the reserved variable names (a copy).
func ReservedEnv() []string { return slices.Clone(reservedEnv) }

// IsReservedEnv reports whether Lambda sets the variable name itself.
func IsReservedEnv(name string) bool { return slices.Contains(reservedEnv, name) }

// searchPathEnv are variables that, when set, replace the runtime's own
// module search path, which is where the /opt layer paths come from.
var searchPathEnv = []string{"PYTHONPATH", "NODE_PATH"}

// HidesLayerPaths reports whether setting the variable removes the /opt
// paths a runtime would search (PYTHONPATH, NODE_PATH).
func HidesLayerPaths(name string) bool { return slices.Contains(searchPathEnv, name) }
