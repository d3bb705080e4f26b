#!/usr/bin/env bash
# Side-by-side: the classic pipeline (unzip + tar --sort=name + gzip -6)
# against `lambda-oci convert`, on the same generated ~100 MB layer zip that
# BenchmarkConvert uses, on this machine, in this run. Each side runs
# $RUNS times (default 3); the best time counts. Needs go, unzip, GNU tar, gzip.
set -euo pipefail

RUNS=${RUNS:-3}
cd "$(dirname "$0")/.."
for tool in go unzip tar gzip; do
	command -v "$tool" >/dev/null || { echo "bench-compare: $tool not found" >&2; exit 1; }
done

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

go run ./layerconv/internal/benchzip/genbenchzip -o "$work/bench.zip"
go build -o "$work/lambda-oci" ./cmd/lambda-oci
unzipped=$(unzip -Zt "$work/bench.zip" | awk '{print $3}')

now() { date +%s.%N; }
calc() { awk "BEGIN { print $* }"; }
best() { # best of the times given as arguments
	printf '%s\n' "$@" | sort -g | head -n1
}

pipeline_times=()
for _ in $(seq "$RUNS"); do
	rm -rf "$work/x" "$work/ref.tar.gz"
	mkdir "$work/x"
	sync
	t0=$(now)
	unzip -q -d "$work/x" "$work/bench.zip"
	tar --sort=name -C "$work/x" -c . | gzip -6 >"$work/ref.tar.gz"
	t1=$(now)
	pipeline_times+=("$(calc "$t1 - $t0")")
done

convert_times=()
for _ in $(seq "$RUNS"); do
	rm -f "$work/out.tar.gz"
	sync
	t0=$(now)
	"$work/lambda-oci" convert "$work/bench.zip" -o "$work/out.tar.gz" --no-cache >/dev/null
	t1=$(now)
	convert_times+=("$(calc "$t1 - $t0")")
done

# Peak memory of one conversion (bounded: blocks in flight, not the layer).
rss=""
if [ -x /usr/bin/time ]; then
	rss=$(/usr/bin/time -f '%M' "$work/lambda-oci" convert "$work/bench.zip" -o "$work/out.tar.gz" --no-cache 2>&1 >/dev/null | tail -n1)
fi

# A cache hit, for reference (the first run fills the cache).
"$work/lambda-oci" convert "$work/bench.zip" -o "$work/hit.tar.gz" --cache-dir "$work/cache" >/dev/null
t0=$(now)
"$work/lambda-oci" convert "$work/bench.zip" -o "$work/hit.tar.gz" --cache-dir "$work/cache" >/dev/null
t1=$(now)
hit=$(calc "$t1 - $t0")

p=$(best "${pipeline_times[@]}")
c=$(best "${convert_times[@]}")
ps=$(stat -c %s "$work/ref.tar.gz")
cs=$(stat -c %s "$work/out.tar.gz")
cores=$(nproc)

printf '\nbench-compare: %s bytes unzipped, %s zip entries, %s cores, best of %s\n' \
	"$unzipped" "$(unzip -Zt "$work/bench.zip" | awk '{print $1}')" "$cores" "$RUNS"
printf '%-44s %8.3f s %8.1f MB/s  output %11d bytes\n' "unzip + tar --sort=name + gzip -6" "$p" \
	"$(calc "$unzipped / $p / 1000000")" "$ps"
printf '%-44s %8.3f s %8.1f MB/s  output %11d bytes\n' "lambda-oci convert (no cache)" "$c" \
	"$(calc "$unzipped / $c / 1000000")" "$cs"
printf '%-44s %8.3f s\n' "lambda-oci convert (cache hit)" "$hit"
[ -n "$rss" ] && printf '%-44s %8d KiB\n' "lambda-oci convert peak RSS" "$rss"
printf 'speed-up %.2fx, output size %+.1f%% vs gzip -6\n' \
	"$(calc "$p / $c")" "$(calc "($cs - $ps) * 100 / $ps")"
