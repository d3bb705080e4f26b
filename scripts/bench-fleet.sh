#!/usr/bin/env bash
# Fleet figures, one run, this machine: N generated functions (default 50)
# sharing 3 layer zips (~LAYER_MB each, default 10) with per-function code,
# on the committed base, written to an OCI layout (offline):
#   1. one `build -f` with a cold cache;
#   2. the same after changing one function's code (cache warm);
#   3. N separate `lambda-oci build` runs, cold cache (each later run hits
#      the disk cache the earlier ones filled, as in a CI loop);
#   4. the base's next release (basegen -patched) named in the file:
#      `rebase -f` of the N images onto it, against rebuilding them with
#      `build -f` (conversion cache warm, and cold).
# Needs go and python3.
set -euo pipefail

N=${N:-50}
LAYER_MB=${LAYER_MB:-10}
cd "$(dirname "$0")/.."
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
go build -o "$work/lambda-oci" ./cmd/lambda-oci
base=$(pwd)/testdata/base
go run ./internal/basegen/cmd/basegen -patched "$work/base-next"

python3 - "$work/fleet" "$N" "$LAYER_MB" "$base" <<'PY'
import os, random, sys, zipfile
root, n, mb, base = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
os.makedirs(f"{root}/layers")
rnd = random.Random(42)
for l in range(3):
    with zipfile.ZipFile(f"{root}/layers/l{l}.zip", "w", zipfile.ZIP_DEFLATED) as z:
        for i in range(mb * 4):  # 256 KiB files, half random (incompressible), half text
            z.writestr(f"python/pkg{l}/m{i}.py", rnd.randbytes(128 << 10) + (b"x = 1\n" * 21845))
with open(f"{root}/lambda-oci.yaml", "w") as f:
    f.write(f"defaults:\n  runtime: python3.12\n  base: oci:{base}:latest\n  arch: x86_64\nfunctions:\n")
    for i in range(n):
        os.makedirs(f"{root}/fn{i}")
        with open(f"{root}/fn{i}/app.py", "w") as c:
            c.write(f"def handler(e, c):\n    return {i}\n")
        f.write(f"  fn{i}:\n    layers: [layers/l0.zip, layers/l1.zip, layers/l2.zip]\n    code: fn{i}\n    handler: app.handler\n")
PY

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
cd "$work/fleet"

t0=$(now)
"$work/lambda-oci" build -f lambda-oci.yaml --oci-layout "$work/out1" --cache-dir "$work/cache1" >/dev/null 2>"$work/log1"
t1=$(now)
cold=$(calc "$t1 - $t0")

printf 'def handler(e, c):\n    return "changed"\n' >"fn$((N / 2))/app.py"
t0=$(now)
"$work/lambda-oci" build -f lambda-oci.yaml --oci-layout "$work/out1" --cache-dir "$work/cache1" >/dev/null 2>"$work/log2"
t1=$(now)
warm=$(calc "$t1 - $t0")

t0=$(now)
for i in $(seq 0 $((N - 1))); do
	"$work/lambda-oci" build --base "oci:$base:latest" --runtime python3.12 --arch x86_64 \
		--layer layers/l0.zip --layer layers/l1.zip --layer layers/l2.zip --code "fn$i" --handler app.handler \
		--oci-layout "$work/out2" --cache-dir "$work/cache2" --quiet >/dev/null 2>&1
done
t1=$(now)
separate=$(calc "$t1 - $t0")

echo "fleet: $N functions, 3 shared layers of ~${LAYER_MB} MB, $(nproc) CPUs"
printf '  build -f, cold cache:              %6.2f s   (%s)\n' "$cold" "$(grep -o 'built .*' "$work/log1")"
printf '  build -f, one function changed:    %6.2f s\n' "$warm"
printf '  %d separate builds, cold cache:    %6.2f s\n' "$N" "$separate"

# The base's next release: every image moves onto it.
sed -i "s|oci:$base:latest|oci:$work/base-next:latest|" lambda-oci.yaml
cp -a "$work/out1" "$work/out3"
t0=$(now)
"$work/lambda-oci" rebase -f lambda-oci.yaml --oci-layout "$work/out1" --cache-dir "$work/cache1" >"$work/refs-rebase" 2>"$work/log4"
t1=$(now)
rebase=$(calc "$t1 - $t0")
t0=$(now)
"$work/lambda-oci" build -f lambda-oci.yaml --oci-layout "$work/out3" --cache-dir "$work/cache1" >"$work/refs-rebuild" 2>"$work/log5"
t1=$(now)
rebuild=$(calc "$t1 - $t0")
t0=$(now)
"$work/lambda-oci" build -f lambda-oci.yaml --oci-layout "$work/out4" --cache-dir "$work/cache3" >/dev/null 2>"$work/log6"
t1=$(now)
rebuildCold=$(calc "$t1 - $t0")
same=no
if cmp -s "$work/refs-rebase" "$work/refs-rebuild"; then same=yes; fi
printf '  rebase -f onto the next base:      %6.2f s   (%s)\n' "$rebase" "$(grep -o 'rebased .*' "$work/log4")"
printf '  build -f on it, cache warm:        %6.2f s   (same digests as rebase: %s)\n' "$rebuild" "$same"
printf '  build -f on it, cache cold:        %6.2f s\n' "$rebuildCold"
