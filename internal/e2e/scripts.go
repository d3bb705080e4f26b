package e2e

// entrypointScript mirrors the AWS base images' /lambda-entrypoint.sh:
// exactly one argument, the handler, exported as _HANDLER; the emulator is
// started when AWS_LAMBDA_RUNTIME_API is unset. The one addition: the
// emulator's own flags (aws-lambda-rie picks them out of any position) are
// passed through to it, so each test chooses its ports on the host network.
// Any second non-flag argument is the same error AWS's script gives.
const entrypointScript = `#!/bin/sh
usage() {
  echo "entrypoint requires the handler name to be the first argument" >&2
  exit 142
}
handler=""
have=0
n=$#
# Rotate through "$@": the first n entries are still unread, flags meant
# for the emulator are appended behind them, the handler is taken out.
while [ "$n" -gt 0 ]; do
  a=$1
  shift
  n=$((n - 1))
  case $a in
  --runtime-interface-emulator-address | --runtime-api-address | --log-level)
    [ "$n" -gt 0 ] || usage
    set -- "$@" "$a" "$1"
    shift
    n=$((n - 1))
    ;;
  --*) set -- "$@" "$a" ;;
  *)
    [ "$have" = 0 ] || usage
    handler=$a
    have=1
    ;;
  esac
done
[ "$have" = 1 ] || usage
export _HANDLER="$handler"

RUNTIME_ENTRYPOINT=/var/runtime/bootstrap
if [ -z "${AWS_LAMBDA_RUNTIME_API}" ]; then
  exec /usr/local/bin/aws-lambda-rie "$@" "$RUNTIME_ENTRYPOINT"
else
  exec "$RUNTIME_ENTRYPOINT"
fi
`

// bootstrapScript is a Lambda custom runtime in busybox sh, standing in for
// a managed runtime. Handler "a.b.fn" means: source module a/b.sh, looked
// up like the managed runtimes do (the task root first, then /opt), and call
// shell function fn with the event as $1; what it prints is the response.
// A module that cannot be found or read is an init error carrying the
// shell's own message (so "Permission denied" comes from the kernel, not
// from us); a function that fails is a handler error.
const bootstrapScript = `#!/bin/sh
api="http://${AWS_LAMBDA_RUNTIME_API:?}/2018-06-01/runtime"
task_root="${LAMBDA_TASK_ROOT:-/var/task}"
tmp=$(mktemp -d /tmp/runtime.XXXXXX) || exit 1

post() { # PATH FILE [HEADER]
  if [ -n "$3" ]; then
    wget -q -O /dev/null --header "$3" --post-file="$2" "$api/$1"
  else
    wget -q -O /dev/null --post-file="$2" "$api/$1"
  fi
}

error_json() { # TYPE MESSAGE
  msg=$(printf '%s' "$2" | tr '\n\r\t' '   ' | sed 's/\\/\\\\/g; s/"/\\"/g')
  printf '{"errorType":"%s","errorMessage":"%s"}' "$1" "$msg"
}

init_error() { # TYPE MESSAGE
  echo "init error: $1: $2" >&2
  error_json "$1" "$2" >"$tmp/init-error"
  post init/error "$tmp/init-error" "Lambda-Runtime-Function-Error-Type: $1"
  exit 1
}

handler="${_HANDLER:?}"
fn="${handler##*.}"
mod="${handler%.*}"
if [ "$mod" = "$handler" ] || [ -z "$mod" ] || [ -z "$fn" ]; then
  init_error Runtime.MalformedHandlerName "Bad handler '$handler': want module.function"
fi
path="$(printf '%s' "$mod" | tr . /).sh"
src=""
for dir in "$task_root" /opt; do
  if [ -e "$dir/$path" ]; then
    src="$dir/$path"
    break
  fi
done
if [ -z "$src" ]; then
  init_error Runtime.ImportModuleError "Unable to import module '$mod': no $path in $task_root or /opt"
fi
# A failing "." aborts a non-interactive shell, so try the import in a
# subshell first and keep its error text.
if ! (. "$src" && command -v "$fn" >/dev/null) 2>"$tmp/import-error"; then
  init_error Runtime.ImportModuleError "Unable to import module '$mod' from $src: $(cat "$tmp/import-error")"
fi
. "$src"

while :; do
  if ! wget -S -q -O "$tmp/event" "$api/invocation/next" 2>"$tmp/headers"; then
    cat "$tmp/headers" >&2
    sleep 1
    continue
  fi
  id=$(grep -i 'lambda-runtime-aws-request-id:' "$tmp/headers" | head -n 1 | sed 's/^[^:]*: *//' | tr -d '\r ')
  if ("$fn" "$(cat "$tmp/event")") >"$tmp/response" 2>"$tmp/stderr"; then
    cat "$tmp/stderr" >&2
    post "invocation/$id/response" "$tmp/response"
  else
    cat "$tmp/stderr" >&2
    error_json Runtime.HandlerError "$(cat "$tmp/stderr")" >"$tmp/error"
    post "invocation/$id/error" "$tmp/error" "Lambda-Runtime-Function-Error-Type: Runtime.HandlerError"
  fi
done
`
