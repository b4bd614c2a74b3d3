# Parley — the two commands that matter:
#   make run    installs what is missing, builds server and plugins, serves http://localhost:8080
#   make test   installs what tests need and runs the whole suite
SHELL := bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

GO      ?= go
BIN     := $(CURDIR)/bin
TOOLS   := $(BIN)/tools
CONFIG  ?= configs/parley.yaml
VERSION := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
COMMIT  := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
LDFLAGS := -X main.version=$(VERSION) -X main.commit=$(COMMIT)
# Every plugins/<name> folder with a main package is a plugin binary.
PLUGINS := $(patsubst plugins/%/main.go,%,$(wildcard plugins/*/main.go))

# Pinned tool versions, installed into ./bin/tools.
STATICCHECK_VERSION   := v0.8.2
GOLANGCI_LINT_VERSION := v2.15.0
DEADCODE_VERSION      := v0.52.0
GOVULNCHECK_VERSION   := v1.9.0
BENCHSTAT_VERSION     := v0.0.0-20260908200009-22c9c6c9d4da
GO_LICENSES_VERSION   := v1.6.0

# What the build ships: the server and every plugin binary. Their linked
# modules are what `make licenses` checks and THIRD_PARTY_NOTICES.md lists.
LICENSE_PKGS := ./server/cmd/parley $(addprefix ./plugins/,$(PLUGINS))
NOTICES      := THIRD_PARTY_NOTICES.md

# Debian packages: to build and run (cgo engines, Opus), and for tests.
DEBS_RUN  := gcc pkg-config libc6-dev libpocketsphinx-dev pocketsphinx pocketsphinx-en-us flite flite1-dev libopus-dev libopusfile-dev
# The Python plugin SDK (sdk/python) runs on Debian's Python and packages only.
DEBS_PY   := python3 python3-grpcio python3-protobuf python3-cryptography
DEBS_TEST := $(DEBS_RUN) $(DEBS_PY) git protobuf-compiler protobuf-compiler-grpc sox espeak-ng chromium chromium-driver redis-server coturn haproxy

TEST_TIMEOUT ?= 20m

# The official OpenAI Node SDK for the /v1/realtime interoperability tests
# (server/e2e/realtime_test.go), installed into ./bin/node (git-ignored).
# openai 7.x needs Node 22; 6.49.0 is the newest 6.x and declares no engine:
# its Realtime WebSocket client (OpenAIRealtimeWS, over `ws`) runs on Node 20.
OPENAI_NODE_VERSION := 6.49.0
WS_NODE_VERSION     := 8.18.3
# The reference MCP server, for the MCP tool tests (server/internal/tools/mcptools).
MCP_EVERYTHING_VERSION := 2026.8.31
NODE_DIR            := $(BIN)/node
NODE_STAMP          := $(NODE_DIR)/.openai-$(OPENAI_NODE_VERSION)-ws-$(WS_NODE_VERSION)-mcp-$(MCP_EVERYTHING_VERSION)

# Silero VAD (vad.engine silero, configs/parley.yaml): the model and the
# ONNX Runtime library it runs on, each one file of an npm package, fetched
# with `npm pack` (no install scripts) and sha256-checked into ./bin/models
# (git-ignored). `make build` (so run and test) does it; the server itself
# never downloads anything. Linux x86-64 only: that is the library pinned.
MODELS_DIR               := $(BIN)/models
SILERO_VAD_WEB_VERSION   := 0.0.31
SILERO_MODEL_SHA256      := 2623a2953f6ff3d2c1e61740c6cdb7168133479b267dfef114a4a3cc5bdd788f
ONNXRUNTIME_NODE_VERSION := 1.30.0
ONNXRUNTIME_SHA256       := ffb75a925ba05e47b235bb66e3e3911714a80b328a9c9425539feb204aa32a23

.PHONY: help
help: ## list targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-12s %s\n", $$1, $$2}'

.PHONY: deps-run deps-test
deps-run: ## install the Debian packages Parley needs to build and run
	@.ci/ensure-packages $(DEBS_RUN)
deps-test: ## install the Debian packages the tests need
	@.ci/ensure-packages $(DEBS_TEST)

.PHONY: models
models: ## fetch and check the Silero VAD model and the ONNX Runtime library into ./bin/models
	@.ci/fetch-npm-file @ricky0123/vad-web@$(SILERO_VAD_WEB_VERSION) package/dist/silero_vad_v5.onnx $(SILERO_MODEL_SHA256) $(MODELS_DIR)/silero_vad_v5.onnx
	@.ci/fetch-npm-file onnxruntime-node@$(ONNXRUNTIME_NODE_VERSION) package/bin/napi-v6/linux/x64/libonnxruntime.so.1 $(ONNXRUNTIME_SHA256) $(MODELS_DIR)/libonnxruntime.so.1

.PHONY: build
build: deps-run models ## build ./bin/parley and every plugin into ./bin/plugins (and fetch ./bin/models)
	$(GO) build -ldflags '$(LDFLAGS)' -o $(BIN)/parley ./server/cmd/parley
	@mkdir -p $(BIN)/plugins
	@for p in $(PLUGINS); do echo "  plugin $$p"; $(GO) build -o $(BIN)/plugins/$$p ./plugins/$$p; done
	@cp LICENSE $(NOTICES) $(BIN)/

.PHONY: run
run: build ## build and start Parley on the offline default config
	$(BIN)/parley --config $(CONFIG)

.PHONY: node-deps
node-deps: $(NODE_STAMP) ## install the pinned npm packages of the interoperability tests (openai, server-everything) into ./bin/node
$(NODE_STAMP):
	@command -v npm >/dev/null || { echo "node-deps: npm is needed (Node 20+)"; exit 1; }
	@mkdir -p $(NODE_DIR)
	npm install --prefix $(NODE_DIR) --no-audit --no-fund --no-package-lock --save-exact openai@$(OPENAI_NODE_VERSION) ws@$(WS_NODE_VERSION) @modelcontextprotocol/server-everything@$(MCP_EVERYTHING_VERSION)
	@touch $@

.PHONY: test
test: deps-test build node-deps ## run the whole suite with the race detector (unit, plugin integration, end-to-end)
	E2E_REQUIRE_OPENAI_SDK=1 E2E_REQUIRE_MCP_EVERYTHING=1 E2E_REQUIRE_TURN=1 E2E_REQUIRE_CLUSTER=1 E2E_REQUIRE_SILERO=1 $(GO) test -race -timeout $(TEST_TIMEOUT) ./...

.PHONY: test-short
test-short: ## quick unit tests only
	$(GO) test -short ./...

SOAK_MINUTES  ?= 10
SOAK_SESSIONS ?= 20
FUZZTIME      ?= 30s

.PHONY: soak
soak: deps-test ## soak: SOAK_SESSIONS sessions come and go at random for SOAK_MINUTES (not in make test; E2E_BIN_DIR=dir soaks prebuilt binaries)
	PARLEY_SOAK_MINUTES=$(SOAK_MINUTES) PARLEY_SOAK_SESSIONS=$(SOAK_SESSIONS) $(GO) test -run '^TestSoak$$' -v -count=1 -timeout $$(( $(SOAK_MINUTES) + 10 ))m ./server/e2e/

.PHONY: fuzz
fuzz: deps-run ## run every fuzz target for FUZZTIME each (crashers land in testdata/fuzz)
	FUZZTIME=$(FUZZTIME) GO=$(GO) .ci/fuzz

.PHONY: eval
eval: build ## play the shipped eval scenarios (configs/evals) against an in-process offline server
	$(BIN)/parley eval --config configs/parley.yaml --config configs/examples/evals.yaml configs/evals

.PHONY: bench
bench: deps-run ## run the Go benchmarks (figures go to server/BENCHMARKS.md)
	$(GO) test -run '^$$' -bench . -benchmem ./...

.PHONY: vad-denoise-eval
vad-denoise-eval: deps-test models ## measure a Speex denoiser before VAD and STT (F1 of both engines, pocketsphinx WER; ≈ 9 min; not in make test)
	@.ci/ensure-packages libspeexdsp-dev
	E2E_REQUIRE_SILERO=1 $(GO) test -tags speexeval -run '^TestDenoiseEvaluation$$' -v -count=1 -timeout 40m ./server/internal/vad/

.PHONY: tools
tools: $(TOOLS)/staticcheck $(TOOLS)/golangci-lint $(TOOLS)/deadcode ## install pinned lint tools into ./bin/tools
$(TOOLS)/staticcheck:
	GOBIN=$(TOOLS) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION)
$(TOOLS)/golangci-lint:
	GOBIN=$(TOOLS) $(GO) install github.com/golangci/golangci-lint/v2/cmd/golangci-lint@$(GOLANGCI_LINT_VERSION)
$(TOOLS)/deadcode:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/tools/cmd/deadcode@$(DEADCODE_VERSION)
$(TOOLS)/govulncheck:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
$(TOOLS)/go-licenses:
	GOBIN=$(TOOLS) $(GO) install github.com/google/go-licenses@$(GO_LICENSES_VERSION)

.PHONY: licenses notices
licenses: deps-run $(TOOLS)/go-licenses ## list every module linked into server and plugins with its licence; fail outside the allow-list or if THIRD_PARTY_NOTICES.md is stale
	@$(GO) list -deps $(LICENSE_PKGS) >/dev/null # fills the module cache; the check itself runs offline
	@.ci/licenses check $(TOOLS)/go-licenses $(LICENSE_PKGS)
	@mkdir -p $(BIN)
	@.ci/licenses notices $(TOOLS)/go-licenses $(BIN)/notices.check $(LICENSE_PKGS) 2>/dev/null
	@cmp -s $(NOTICES) $(BIN)/notices.check || { echo "$(NOTICES) is stale: run make notices and commit it"; exit 1; }
notices: deps-run $(TOOLS)/go-licenses ## regenerate THIRD_PARTY_NOTICES.md (licence texts and NOTICE files of every linked module)
	@$(GO) list -deps $(LICENSE_PKGS) >/dev/null
	@.ci/licenses notices $(TOOLS)/go-licenses $(NOTICES) $(LICENSE_PKGS)

.PHONY: lint
lint: deps-run tools ## gofmt, go vet, staticcheck, golangci-lint, deadcode
	@out=$$(gofmt -l $$(git ls-files '*.go' | grep -v '\.pb\.go$$')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(TOOLS)/staticcheck ./...
	$(TOOLS)/golangci-lint run ./...
	@out=$$($(TOOLS)/deadcode -test -filter 'github.com/parleyhq/parley/server' ./...); if [ -n "$$out" ]; then echo "dead code:"; echo "$$out"; exit 1; fi

.PHONY: lint-python
lint-python: ## pyflakes and strict mypy on the Python SDK, its examples and test plugins (Debian packages)
	@.ci/ensure-packages $(DEBS_PY) python3-pyflakes python3-mypy
	cd sdk/python && /usr/bin/python3 -m pyflakes parley_plugin/*.py examples testdata tests
	cd sdk/python && /usr/bin/python3 -m mypy --cache-dir=$(BIN)/mypy-cache parley_plugin examples/*.py testdata/*.py

.PHONY: vulncheck
vulncheck: $(TOOLS)/govulncheck ## govulncheck (needs its online database; not part of lint or CI)
	$(TOOLS)/govulncheck ./...

.PHONY: proto proto-check
PROTO_OUT := sdk/proto sdk/python/parley_plugin/_proto
proto: ## regenerate the sdk/proto Go code and the Python SDK's code from the same files
	@.ci/ensure-packages protobuf-compiler protobuf-compiler-grpc
	bash sdk/proto/generate.sh
proto-check: proto ## fail if committed generated code is stale
	@git diff --exit-code -- $(PROTO_OUT) && [ -z "$$(git status --porcelain --untracked-files=all -- $(PROTO_OUT))" ] || { echo "generated code is stale: run make proto and commit"; git status --short -- $(PROTO_OUT); exit 1; }

.PHONY: clean
clean: ## remove build output
	rm -rf $(BIN)/parley $(BIN)/plugins

$(TOOLS)/benchstat:
	GOBIN=$(TOOLS) $(GO) install golang.org/x/perf/cmd/benchstat@$(BENCHSTAT_VERSION)
.PHONY: benchstat
benchstat: $(TOOLS)/benchstat ## install benchstat into ./bin/tools
