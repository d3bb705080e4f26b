# lambda-oci — build, test, bench, demo, lint.
GO       ?= go
BIN      := bin/lambda-oci
PKGS     := ./...
FUZZTIME ?= 5m

.PHONY: all build test bench fuzz lint demo ci clean release-check

all: build

build:
	$(GO) build -o $(BIN) ./cmd/lambda-oci

# All tests, race detector on. Integration tests that need system tools
# (docker-registry, skopeo, podman, umoci, GNU tar) skip locally when a tool is
# missing; .ci/run sets LAMBDA_OCI_REQUIRE_TOOLS=1 so CI fails instead.
test:
	$(GO) test -race -count=1 -timeout 30m $(PKGS)

bench:
	$(GO) test -run '^$$' -bench . -benchmem -benchtime 3x $(PKGS)
	bash scripts/bench-compare.sh
	bash scripts/bench-fleet.sh
	bash scripts/bench-ci.sh

# Long fuzzing of the zip converter and of the layer reader the checks use
# (tar, gzip, zstd from any image), FUZZTIME each.
fuzz:
	$(GO) test -run '^$$' -fuzz '^FuzzConvert$$' -fuzztime $(FUZZTIME) ./layerconv
	$(GO) test -run '^$$' -fuzz '^FuzzReadLayer$$' -fuzztime $(FUZZTIME) ./checks

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet $(PKGS)

# The README's first command: an offline build of the example image on the
# bundled base, printing the JSON result.
demo: build
	rm -rf out/demo
	$(BIN) build --base oci:testdata/base:latest --arch x86_64 \
		--layer testdata/demo/layer.zip --code testdata/demo/code \
		--handler app.handler --oci-layout out/demo --json

# The README's second command: system packages for the tests (apt, as root), then the tests.
ci:
	bash scripts/install-test-deps.sh
	$(MAKE) lint
	$(MAKE) release-check
	LAMBDA_OCI_REQUIRE_TOOLS=1 $(MAKE) test

# Offline check of the release configuration: the test that reads
# .goreleaser.yaml (targets, archives, checksums, the -X stamp), then a build
# stamped the way a release is, whose --version must print the stamp.
# `goreleaser check` runs too when goreleaser is installed; CI does not
# install it (a large build for a syntax check the test already covers).
RELEASE_CHECK_VERSION := v0.0.0-release-check
release-check:
	$(GO) test -count=1 -run '^TestReleaseConfig$$' ./cmd/lambda-oci
	$(GO) build -ldflags "-X main.version=$(RELEASE_CHECK_VERSION)" -o out/release-check/lambda-oci ./cmd/lambda-oci
	out/release-check/lambda-oci --version | grep -q '^lambda-oci $(RELEASE_CHECK_VERSION) '
	@if command -v goreleaser >/dev/null; then goreleaser check; else echo "release-check: goreleaser not installed; its configuration was checked by TestReleaseConfig"; fi

clean:
	rm -rf bin out
