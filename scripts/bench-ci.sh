#!/usr/bin/env bash
# CI figures, same run, this machine: lambda-oci against the crane workflow
# (unzip + tar --sort=name + gzip -6, `crane append`, `crane mutate`), with
# a generated base of about BASE_MB (default 150) MB compressed in one local
# docker-registry and the images pushed to another (plain HTTP, loopback):
#   fresh  fresh runner (empty cache), only the code changed, the previous
#          image already in the target repository (--cache-from it: the
#          push goes to a new tag, as CI pushes one per commit)
#   cold   empty cache, empty target repository (crane copy of the base
#          alone given for reference)
#   warm   code-only rebuild with the cache of the previous build
# each best of $RUNS (default 3), wall seconds and peak RSS; then a code
# zip with ~NODE_MB (default 30) MB of node_modules and a one-line handler
# edit, pushed with --code-layers 1 and with the default split: bytes
# uploaded by the edit (blobs the push reports "pushed", plus the config
# when pushed and the manifest).
# The layer is the ~100 MB BenchmarkConvert zip. crane is installed pinned
# from the Go module proxy into a temporary GOBIN. Needs go, python3,
# docker-registry, skopeo, unzip, GNU tar, gzip, curl, /usr/bin/time.
set -euo pipefail

RUNS=${RUNS:-3}
BASE_MB=${BASE_MB:-150}
NODE_MB=${NODE_MB:-30}
CRANE_VERSION=v0.22.1
cd "$(dirname "$0")/.."
repo=$(pwd)
for tool in go python3 docker-registry skopeo unzip tar gzip curl /usr/bin/time; do
	command -v "$tool" >/dev/null || { echo "bench-ci: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
# start runs in a command substitution (a subshell): the registries' pids
# go to a file, which the parent's cleanup reads.
cleanup() {
	if [ -f "$work/pids" ]; then
		while read -r _ p; do kill "$p" 2>/dev/null || true; done <"$work/pids"
	fi
	rm -rf "$work"
}
trap cleanup EXIT

GOBIN="$work/bin" go install "github.com/google/go-containerregistry/cmd/crane@$CRANE_VERSION"
crane="$work/bin/crane"
go build -o "$work/lambda-oci" ./cmd/lambda-oci
lo="$work/lambda-oci"
go run ./layerconv/internal/benchzip/genbenchzip -seed 1 -o "$work/layer.zip"

# start NAME: a docker-registry on a free loopback port; prints HOST:PORT.
start() {
	local name=$1 port
	port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
	cat >"$work/$name.yml" <<CFG
version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  filesystem:
    rootdirectory: $work/$name-storage
  delete:
    enabled: true
http:
  addr: 127.0.0.1:$port
CFG
	docker-registry serve "$work/$name.yml" >"$work/$name.log" 2>&1 &
	echo "$name $!" >>"$work/pids"
	for _ in $(seq 100); do
		curl -fsS "http://127.0.0.1:$port/v2/" >/dev/null 2>&1 && break
		sleep 0.05
	done
	echo "127.0.0.1:$port"
}
src=$(start src)
dst=$(start dst)
# regcpu: CPU seconds both registries have used so far (they share this
# machine's cores with the builds; a real registry does that work elsewhere).
ticks=$(getconf CLK_TCK)
regcpu() {
	local total=0 p
	for p in $(awk '{print $2}' "$work/pids"); do
		total=$((total + $(awk '{print $14 + $15}' "/proc/$p/stat")))
	done
	awk -v t="$total" -v hz="$ticks" 'BEGIN{printf "%.2f", t / hz}'
}

# The base: the committed Lambda-like base (linux/amd64) plus three layers
# of incompressible data, BASE_MB MB compressed in all.
python3 - "$work" "$BASE_MB" <<'PY'
import io, os, random, sys, tarfile
work, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(7)
for i in range(3):
    with tarfile.open(f"{work}/base{i}.tar", "w", format=tarfile.PAX_FORMAT) as t:
        for d in ("usr", "usr/lib", f"usr/lib/bench{i}"):  # Lambda wants every parent's entry
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, 0
            t.addfile(ti)
        for j in range(mb // 3):
            data = rnd.randbytes(1 << 20)
            ti = tarfile.TarInfo(f"usr/lib/bench{i}/blob{j}.bin")
            ti.size, ti.mode, ti.mtime = len(data), 0o644, 0
            t.addfile(ti, io.BytesIO(data))
PY
for i in 0 1 2; do gzip -1 -n "$work/base$i.tar"; done
skopeo copy -q --dest-tls-verify=false oci:testdata/base:latest-x86_64 "docker://$src/lambda:x86_64"
"$crane" append -b "$src/lambda:x86_64" -f "$work/base0.tar.gz" -f "$work/base1.tar.gz" -f "$work/base2.tar.gz" -t "$src/base:latest" >/dev/null 2>&1
rm -f "$work"/base*.tar.gz
base="$src/base:latest"

mkdir -p "$work/code"
printf 'def handler(event, context):\n    return {"ok": True}\n' >"$work/code/app.py"
edit() { printf '# %s\n' "$(date +%s%N)" >>"$work/code/app.py"; }

# timed LABEL CMD...: runs CMD, appends "SECONDS RSS_KB CPU_SECONDS" to
# $work/LABEL (CPU: user + system, the command and its children; the
# registries' own work is not in it).
timed() {
	local label=$1
	shift
	/usr/bin/time -f '%e %M %U %S' -o "$work/t" "$@" >"$work/out" 2>"$work/err" || { cat "$work/err" >&2; exit 1; }
	awk '{printf "%s %s %.2f\n", $1, $2, $3 + $4}' "$work/t" >>"$work/$label"
}

lobuild=("$lo" build --base "$base" --arch x86_64 --runtime python3.12 --layer "$work/layer.zip" --code "$work/code"
	--handler app.handler --quiet)

# The crane workflow, as a CI script would write it: layer and code as
# tarballs by the shell pipeline, appended to the base, CMD set.
cranebuild() { # TAG
	local x="$work/x"
	rm -rf "$x" && mkdir -p "$x/opt" "$x/var/task"
	unzip -q "$work/layer.zip" -d "$x/opt"
	cp -r "$work/code/." "$x/var/task/"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$x" -c opt | gzip -6 -n >"$work/layer.tar.gz"
	tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C "$x" -c var | gzip -6 -n >"$work/code.tar.gz"
	"$crane" append -b "$base" -f "$work/layer.tar.gz" -f "$work/code.tar.gz" -t "$1" >/dev/null 2>&1
	"$crane" mutate --cmd app.handler "$1" >/dev/null 2>&1
}
export -f cranebuild
export work base crane

# The previous images, in the target.
"${lobuild[@]}" --cache-dir "$work/cache-prev" --tag "$dst/fn:prev" >/dev/null
bash -c "cranebuild $dst/cr:prev"

for i in $(seq "$RUNS"); do
	edit
	rm -rf "$work/cache-fresh"
	timed lo-fresh "${lobuild[@]}" --cache-dir "$work/cache-fresh" --cache-from "$dst/fn:prev" --tag "$dst/fn:fresh$i"
	timed cr-fresh bash -c "cranebuild $dst/cr:fresh$i"

	rm -rf "$work/cache-cold"
	r0=$(regcpu)
	timed lo-cold "${lobuild[@]}" --cache-dir "$work/cache-cold" --tag "$dst/cold$i/fn:v1"
	awk -v a="$r0" -v b="$(regcpu)" 'BEGIN{printf "%.2f\n", b - a}' >>"$work/reg-cold"
	timed cr-cold bash -c "cranebuild $dst/crcold$i/fn:v1"
	timed copy-cold "$crane" copy "$base" "$dst/copy$i/base:v1"

	edit
	timed lo-warm "${lobuild[@]}" --cache-dir "$work/cache-cold" --tag "$dst/cold$i/fn:v2"
done

# check of the built image (the base plus the layer, in the target
# registry) with an empty listing cache, against crane pull of the same
# image to a tarball: both read every blob once.
for i in $(seq "$RUNS"); do
	rm -rf "$work/cache-check"
	timed lo-check "$lo" check "$dst/fn:prev" --cache-dir "$work/cache-check" --json
	rm -f "$work/pulled.tar"
	timed cr-pull "$crane" pull "$dst/fn:prev" "$work/pulled.tar"
done

best() { sort -g "$work/$1" | head -n1 | awk '{print $1}'; }
cpu() { sort -g "$work/$1" | head -n1 | awk '{print $3}'; } # of the best run
peak() { awk 'BEGIN{m=0} {if ($2>m) m=$2} END{printf "%d", m/1024}' "$work/$1"; }

basesize=$("$crane" manifest "$base" | python3 -c 'import json,sys; print(sum(l["size"] for l in json.load(sys.stdin)["layers"]))')
echo "bench-ci: base $((basesize / 1000000)) MB compressed in another registry, layer zip $(($(stat -c %s "$work/layer.zip") / 1000000)) MB, small code; best of $RUNS, $(nproc) CPUs"
printf '  %-46s %8s %8s %10s\n' "case" "seconds" "CPU s" "peak RSS"
printf '  %-46s %8s %8s %7s MB\n' "fresh runner, code-only change: lambda-oci" "$(best lo-fresh)" "$(cpu lo-fresh)" "$(peak lo-fresh)"
printf '  %-46s %8s %8s %7s MB\n' "  crane workflow" "$(best cr-fresh)" "$(cpu cr-fresh)" "$(peak cr-fresh)"
printf '  %-46s %8s %8s %7s MB\n' "cold, empty target: lambda-oci" "$(best lo-cold)" "$(cpu lo-cold)" "$(peak lo-cold)"
echo "    (the two registries used $(sort -g "$work/reg-cold" | head -n1) to $(sort -g "$work/reg-cold" | tail -n1) CPU s during each cold lambda-oci run)"
printf '  %-46s %8s %8s %7s MB\n' "  crane workflow" "$(best cr-cold)" "$(cpu cr-cold)" "$(peak cr-cold)"
printf '  %-46s %8s %8s %7s MB\n' "  crane copy of the base alone" "$(best copy-cold)" "$(cpu copy-cold)" "$(peak copy-cold)"
printf '  %-46s %8s %8s %7s MB\n' "warm code-only rebuild: lambda-oci" "$(best lo-warm)" "$(cpu lo-warm)" "$(peak lo-warm)"
printf '  %-46s %8s %8s %7s MB\n' "check of the image, empty cache: lambda-oci" "$(best lo-check)" "$(cpu lo-check)" "$(peak lo-check)"
printf '  %-46s %8s %8s %7s MB\n' "  crane pull of the same image" "$(best cr-pull)" "$(cpu cr-pull)" "$(peak cr-pull)"

# Split by change rate: bytes one handler edit uploads.
python3 - "$work/node" "$NODE_MB" <<'PY'
import os, random, sys
root, mb = sys.argv[1], int(sys.argv[2])
rnd = random.Random(11)
n = 0
i = 0
while n < mb << 20:
    d = f"{root}/node_modules/pkg{i // 40}"
    os.makedirs(d, exist_ok=True)
    # Source-like: half random words (compresses about as real JS does).
    body = (" ".join(rnd.choice(["const", "function", "return", "module", "exports", "require", f"v{rnd.randrange(1000)}"]) for _ in range(6000)) + "\n").encode()
    body += rnd.randbytes(len(body) // 4).hex().encode()
    with open(f"{d}/f{i}.js", "wb") as f:
        f.write(body)
    n += len(body)
    i += 1
with open(f"{root}/index.js", "w") as f:
    f.write("exports.handler = async () => ({ ok: 1 });\n")
PY
nodezip() { (cd "$work/node" && rm -f "$work/node.zip" && zip -qrX "$work/node.zip" .); }
uploaded() { # JSON result -> bytes uploaded
	python3 - "$1" "$dst" <<'PY'
import json, sys, urllib.request
out = json.load(open(sys.argv[1]))
n = sum(l["size"] for l in out["layers"] if l.get("push") == "pushed")
if out.get("configPush") == "pushed":
    repo, _ = out["pushed"][0].split("@")
    req = urllib.request.Request("http://%s/v2/%s/manifests/%s" % (sys.argv[2], repo.split("/", 1)[1], out["digest"]),
        headers={"Accept": out["mediaType"]})
    n += json.load(urllib.request.urlopen(req))["config"]["size"]
print(n + out["manifestSize"])
PY
}
nodebuild() { # TAG [flags]
	local tag=$1
	shift
	"$lo" build --base "$base" --arch x86_64 --runtime nodejs22.x --code "$work/node.zip" --handler index.handler \
		--cache-dir "$work/cache-node" --tag "$tag" --json --quiet "$@" >"$work/node.json" 2>>"$work/node.log"
}
command -v zip >/dev/null || { echo "bench-ci: zip not found: skipping the split figures" >&2; exit 0; }
nodezip
echo "split by change rate: code zip $(($(stat -c %s "$work/node.zip") / 1000000)) MB ($NODE_MB MB of node_modules), one-line handler edit"
for mode in 1 2; do
	sed -i 's/ok: [0-9]*/ok: 1/' "$work/node/index.js" && nodezip
	nodebuild "$dst/node$mode:v1" --code-layers "$mode"
	sed -i 's/ok: 1/ok: 2/' "$work/node/index.js" && nodezip
	nodebuild "$dst/node$mode:v2" --code-layers "$mode"
	printf '  --code-layers %d: edit uploads %10d bytes\n' "$mode" "$(uploaded "$work/node.json")"
done
