# Sourced by bench-build.sh and bench-push.sh: the lambda-oci binary and the
# seeded inputs (two ~100 MB layer zips, small code) in $work, generated once.
go build -o "$work/lambda-oci" ./cmd/lambda-oci
if [ ! -f "$work/layer2.zip" ]; then
  for i in 1 2; do go run ./layerconv/internal/benchzip/genbenchzip -seed "$i" -o "$work/layer$i.zip"; done
  mkdir -p "$work/code"
  printf 'def handler(event, context):\n    return {"ok": True}\n' >"$work/code/app.py"
fi
