#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian 12 machine (as root).
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=(docker-registry apache2-utils openssl curl ca-certificates tar gzip zip unzip
      podman runc conmon containernetworking-plugins golang-github-containers-common
      busybox-static umoci skopeo
      python3 python3-numpy)
# Node.js and npm from Debian only when the machine has none: a machine
# whose Node.js came from elsewhere (nodesource, with its own npm) keeps it.
command -v node >/dev/null 2>&1 || pkgs+=(nodejs)
command -v npm >/dev/null 2>&1 || pkgs+=(npm)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "install-test-deps: need root to apt-get install: ${missing[*]}" >&2
    exit 1
  fi
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

# The AWS Lambda Runtime Interface Emulator, static, pinned: the e2e tests put
# it inside a Lambda-like base image.
RIE_VERSION=v0.0.0-20261030222936-bef5c4ba774d
RIE_MODULE=github.com/aws/aws-lambda-runtime-interface-emulator
rie=$(command -v aws-lambda-rie || true)
# Reinstall unless the binary on PATH was built from the pinned version.
built=$( [ -n "$rie" ] && go version -m "$rie" 2>/dev/null || true)
if ! grep -q "mod[[:space:]]*${RIE_MODULE}[[:space:]]*${RIE_VERSION}" <<<"$built"; then
  CGO_ENABLED=0 GOBIN=/usr/local/bin go install "${RIE_MODULE}/cmd/aws-lambda-rie@${RIE_VERSION}"
fi

# buildkitd for the BuildKit backend's tests, at the version go.mod requires.
# `go install pkg@version` refuses buildkit (its go.mod has exclude directives),
# so it is built inside the module cache, where buildkit is the main module and
# its own go.mod and go.sum apply as published. Skipped when the binary on PATH
# already says it is this version (the build takes minutes on 2 cores).
BUILDKIT_MODULE=github.com/moby/buildkit
BUILDKIT_VERSION=$(go list -m -f '{{.Version}}' "$BUILDKIT_MODULE")
BUILDKIT_BIN=${BUILDKIT_BIN:-/usr/local/bin}
have=$("$BUILDKIT_BIN/buildkitd" --version 2>/dev/null || true)
if ! grep -q "[[:space:]]${BUILDKIT_VERSION}[[:space:]]" <<<"$have "; then
  dir=$(go mod download -json "${BUILDKIT_MODULE}@${BUILDKIT_VERSION}" |
        sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
  [ -n "$dir" ] || { echo "install-test-deps: no module directory for buildkit ${BUILDKIT_VERSION}" >&2; exit 1; }
  start=$(date +%s)
  (cd "$dir" && CGO_ENABLED=0 go build -trimpath \
     -ldflags "-s -w -X ${BUILDKIT_MODULE}/version.Version=${BUILDKIT_VERSION}" \
     -o "$BUILDKIT_BIN/buildkitd.tmp" ./cmd/buildkitd)
  mv "$BUILDKIT_BIN/buildkitd.tmp" "$BUILDKIT_BIN/buildkitd"
  echo "install-test-deps: buildkitd ${BUILDKIT_VERSION} built in $(( $(date +%s) - start ))s" >&2
fi

# npm packages the Lambda-fidelity e2e tests make a Node.js layer of (the
# tests read them from here and need no network): sharp, whose native code
# (a .node addon and libvips) comes prebuilt for linux-x64/arm64 from the
# npm registry, and ms, a pure JavaScript package. Pinned; reinstalled only
# when the pinned versions are not the ones on disk.
NPM_DIR=${LAMBDA_OCI_E2E_NPM:-/var/cache/lambda-oci-e2e/npm}
NPM_PKGS=(sharp@0.34.5 ms@2.1.3)
npm_stamp="$NPM_DIR/layer/.installed"
if [ "$(cat "$npm_stamp" 2>/dev/null)" != "${NPM_PKGS[*]}" ]; then
  rm -rf "$NPM_DIR/layer"
  mkdir -p "$NPM_DIR/layer"
  npm install --prefix "$NPM_DIR/layer" --no-save --no-audit --no-fund --omit=dev \
    --loglevel=error "${NPM_PKGS[@]}"
  printf '%s' "${NPM_PKGS[*]}" >"$npm_stamp"
fi
