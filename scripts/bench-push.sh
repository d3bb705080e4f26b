#!/usr/bin/env bash
# Wall time and bytes uploaded of `lambda-oci build --tag` to a local
# docker-registry (plain HTTP on loopback), two ~100 MB layer zips and small
# code onto the testdata base:
#   first  empty registry, empty cache: every blob uploaded
#   again  same inputs: nothing uploaded (existence checks only)
#   code   only the code changed, base and layers already in the registry
#          and in the cache: the code layer, the config and the manifest
# Bytes uploaded = sizes of the blobs the push reports as "pushed" plus the
# manifest (put twice: by digest, then the tag); the registry's access log
# gives the upload sessions and manifest PUTs as a cross-check.
# Usage: scripts/bench-push.sh [WORKDIR]   (inputs are generated, seeded)
set -euo pipefail
cd "$(dirname "$0")/.."
work=${1:-$(mktemp -d)}
mkdir -p "$work"
. scripts/bench-inputs.sh
cache="$work/cache"
rm -rf "$cache" "$work/storage"

port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
host="127.0.0.1:$port"
cat >"$work/registry.yml" <<CFG
version: 0.1
log:
  level: error
  accesslog:
    disabled: false
storage:
  filesystem:
    rootdirectory: $work/storage
http:
  addr: $host
CFG
docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
regpid=$!
trap 'kill "$regpid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
  curl -fsS "http://$host/v2/" >/dev/null 2>&1 && break
  sleep 0.05
done

run() {
  local label=$1
  local before
  before=$(wc -l <"$work/registry.log")
  /usr/bin/time -v -o "$work/$label.time" \
    "$work/lambda-oci" build --base oci:testdata/base:latest --arch x86_64 \
    --layer "$work/layer1.zip" --layer "$work/layer2.zip" --code "$work/code" \
    --handler app.handler --cache-dir "$cache" --tag "$host/bench/fn:latest" --json --quiet \
    >"$work/$label.json" 2>"$work/$label.log"
  local wall rss sessions mputs bytes
  wall=$(sed -n 's/.*Elapsed (wall clock) time (h:mm:ss or m:ss): //p' "$work/$label.time")
  rss=$(sed -n 's/.*Maximum resident set size (kbytes): //p' "$work/$label.time")
  sessions=$(tail -n +"$((before + 1))" "$work/registry.log" | grep -c '"POST /v2/bench/fn/blobs/uploads/' || true)
  mputs=$(tail -n +"$((before + 1))" "$work/registry.log" | grep -c '"PUT /v2/bench/fn/manifests/' || true)
  bytes=$(python3 - "$work/$label.json" "$host" <<'PY'
import json, sys, urllib.request
out = json.load(open(sys.argv[1]))
n = sum(l["size"] for l in out["layers"] if l.get("push") == "pushed")
if out.get("configPush") == "pushed":
    req = urllib.request.Request("http://%s/v2/bench/fn/manifests/%s" % (sys.argv[2], out["digest"]),
        headers={"Accept": out["mediaType"]})
    n += json.load(urllib.request.urlopen(req))["config"]["size"]
print(n)
PY
)
  bytes=$((bytes + mputs * $(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["manifestSize"])' "$work/$label.json")))
  printf '%-6s wall %-8s peak RSS %5d MiB  uploaded %10d bytes  (%d upload sessions, %d manifest PUTs)\n' \
    "$label" "$wall" $((rss / 1024)) "$bytes" "$sessions" "$mputs"
}

run first
run again
printf '# %s\n' "$(date +%s%N)" >>"$work/code/app.py"
run code
