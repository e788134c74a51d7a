# One entry point for humans and CI. `make` alone prints the targets.
SHELL := /bin/bash
.DEFAULT_GOAL := help

NODE_STAMP := node_modules/.package-lock.json
TOOLS := $(CURDIR)/.tools
VENV := $(CURDIR)/.venv
export GOBIN := $(TOOLS)/bin
export PATH := $(TOOLS)/bin:$(CURDIR)/node_modules/.bin:$(PATH)

# Pinned tool versions (installed by `make setup`, never by hand).
GRPCURL_VERSION := v1.9.3
PROTOC_GEN_GO_VERSION := v1.36.12
PROTOC_GEN_GO_GRPC_VERSION := v1.6.2
# the gRPC health probe the Kubernetes recipe runs over the Unix socket (kubelet's own grpc probe needs TCP)
GRPC_HEALTH_PROBE_VERSION := v0.4.63

.PHONY: help
help: ## list the targets
	@grep -E '^[a-zA-Z_-]+:.*?## ' $(MAKEFILE_LIST) | awk 'BEGIN{FS=":.*?## "}{printf "  %-18s %s\n", $$1, $$2}'

$(NODE_STAMP): package.json package-lock.json
	npm ci --no-audit --no-fund
	@touch $(NODE_STAMP)

.PHONY: setup
setup: $(NODE_STAMP) tools ## install everything the project needs (npm, Go tools, Python venv, Debian packages)

.PHONY: tools
tools: $(TOOLS)/bin/grpcurl $(TOOLS)/bin/protoc-gen-go $(TOOLS)/bin/protoc-gen-go-grpc $(TOOLS)/bin/grpc-health-probe $(VENV)/.stamp apt-packages

# Debian packages the tests use (systemd-analyze checks the systemd recipe; redis-server backs the shared-state
# tests, started per test on a Unix socket in a temp dir; chromium runs the web console's browser tests through
# playwright-core). Installed only when missing.
APT_PACKAGES := systemd redis-server chromium
.PHONY: apt-packages
apt-packages:
	@./scripts/ensure-apt.sh $(APT_PACKAGES)

$(TOOLS)/bin/grpcurl:
	go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
$(TOOLS)/bin/grpc-health-probe:
	go install github.com/grpc-ecosystem/grpc-health-probe@$(GRPC_HEALTH_PROBE_VERSION)
$(TOOLS)/bin/protoc-gen-go:
	go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(TOOLS)/bin/protoc-gen-go-grpc:
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)

$(VENV)/.stamp: requirements-dev.txt
	python3 -m venv $(VENV)
	$(VENV)/bin/pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	@touch $@

.PHONY: build
build: $(NODE_STAMP) ## compile TypeScript to dist/, bundle the one-shot CLI (bin/gait runs it) and the web console
	npx tsc -p tsconfig.build.json
	node scripts/bundle-cli.mjs
	node scripts/bundle-console.mjs

# The self-contained executable (no Node needed to run it): dist/gait-<os>-<arch> and dist/gait-<os>-<arch>.sha256.
DIST_EXE := dist/gait-$(shell uname -s | tr A-Z a-z)-$(shell uname -m | sed -e s/x86_64/x64/ -e s/aarch64/arm64/)
DIST_INPUTS := $(shell find src policies schemas console -name '*.ts' -o -name '*.tsx' -o -name '*.yaml' -o -name '*.json' -o -name '*.css' -o -name '*.html') package.json scripts/build-dist.mjs scripts/bundle-console.mjs

.PHONY: dist
dist: $(DIST_EXE) ## build the self-contained executable dist/gait-<os>-<arch> and its .sha256 (bun build --compile)

$(DIST_EXE): $(NODE_STAMP) $(DIST_INPUTS)
	node scripts/build-dist.mjs --out $@

.PHONY: generate
generate: setup ## regenerate all code from proto/ (server TS, TS/Python/Go clients)
	./scripts/generate.sh

.PHONY: check-generated
check-generated: setup ## regenerate and fail if any generated file changed (drift)
	./scripts/check-generated.sh

.PHONY: lint
lint: setup ## buf lint, buf breaking against main, TypeScript type check
	buf lint
	./scripts/buf-breaking.sh
	npx tsc -p tsconfig.json --noEmit

CLIENTS_OUT := $(CURDIR)/dist/clients

# One command per client, all three here: the TypeScript tarball (`npm pack`, whose prepack compiles src/), the
# Python wheel (built with the pinned setuptools of the venv, no build isolation, so it needs no download), and the
# Go module, which is used through its module path (see clients/go/README.md), so it is built and vetted in place.
.PHONY: clients
clients: $(NODE_STAMP) $(VENV)/.stamp ## build the client packages into dist/clients/ (npm tarball, Python wheel; Go module vetted)
	mkdir -p $(CLIENTS_OUT)
	cd clients/typescript && npm pack --pack-destination $(CLIENTS_OUT)
	rm -rf clients/python/build  # setuptools reuses build/lib; a module deleted from the source would linger in the wheel
	$(VENV)/bin/python -m pip wheel --no-deps --no-build-isolation --quiet --disable-pip-version-check -w $(CLIENTS_OUT) ./clients/python
	cd clients/go && go build ./... && go vet ./...
	@ls -1 $(CLIENTS_OUT)

.PHONY: test
test: setup build dist ## run every test suite (TypeScript, Python, Go); ends with "N passed, N failed"
	./scripts/test-all.sh

.PHONY: fuzz
fuzz: setup build ## resilience suite scaled up (GAIT_FUZZ_SCALE, default 20); prints the counts
	./scripts/fuzz.sh

.PHONY: soak
soak: setup build ## 10-minute load at 64 in flight (SOAK_SECONDS); fails on RSS or fd growth
	./scripts/soak.sh

.PHONY: run
run: setup build ## start the decision service on the embedded defaults
	./scripts/run.sh

.PHONY: bench
bench: setup build dist ## run the benchmarks; prints figures, writes bench/results/*.json
	./scripts/bench.sh

# Cerbos is installed here on demand (pinned in bench/peers/package-lock.json, into .cache/peers), never by `make setup`.
.PHONY: bench-peers
bench-peers: $(NODE_STAMP) $(VENV)/.stamp build ## ours vs Cerbos (installed on demand) over Unix sockets at 1/8/64 in flight; one table, bench/results/peers.json
	./scripts/bench-peers.sh

.PHONY: bench-floor
bench-floor: $(NODE_STAMP) $(VENV)/.stamp build ## the floor: a grpc-js server that only answers (with and without a durable write per call) beside ours; bench/results/floor.json
	./scripts/bench-floor.sh

.PHONY: bench-dist
bench-dist: setup build dist ## time the one-shot CLI as a whole process per way of shipping it (Node, SEA, bun)
	@./scripts/ensure-apt.sh hyperfine
	./bench/dist-startup.sh

.PHONY: clean
clean: ## remove build output and local state
	rm -rf dist test-results .state gait-out/serve
