#!/usr/bin/env bash
# Wall time and peak RSS of `lambda-oci build` with two ~100 MB layer zips
# and small code onto the testdata base, into an OCI layout:
#   cold   empty cache (both layers converted, base measured)
#   warm   same inputs again (everything from the cache)
#   code   only the code changed (warm cache for base and layers)
# Usage: scripts/bench-build.sh [WORKDIR]   (inputs are generated, seeded)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
. scripts/bench-inputs.sh
ls -l "$work"/layer*.zip >&2
cache="$work/cache"

run() {
  local label=$1
  rm -rf "$work/out"
  /usr/bin/time -v -o "$work/$label.time" \
    "$work/lambda-oci" build --base oci:testdata/base:latest --arch x86_64 \
    --layer "$work/layer1.zip" --layer "$work/layer2.zip" --code "$work/code" \
    --handler app.handler --cache-dir "$cache" --oci-layout "$work/out" >"$work/$label.ref" 2>"$work/$label.log"
  local wall rss
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$label.time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$label.time")
  printf '%-6s wall %-8s peak RSS %6d MiB  %s\n' "$label" "$wall" $((rss / 1024)) "$(cat "$work/$label.ref")"
}

rm -rf "$cache"
run cold
run warm
printf '# %s\n' "$(date +%s%N)" >>"$work/code/app.py"
run code
