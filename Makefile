# See https://tech.davis-hansson.com/p/make/
SHELL := bash
.DELETE_ON_ERROR:
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := all
MAKEFLAGS += --warn-undefined-variables
MAKEFLAGS += --no-builtin-rules
MAKEFLAGS += --no-print-directory

TMP := .tmp
BIN := $(abspath $(TMP)/bin)
export PATH := $(BIN):$(PATH)
export GOBIN := $(BIN)

BUF_VERSION ?= v1.75.0
PROTOC_GEN_GO_VERSION ?= v1.36.12
PROTOC_GEN_GO_GRPC_VERSION ?= v1.6.2
GRPCURL_VERSION ?= v1.9.3
VERSITYGW_VERSION ?= v1.8.0
LAKEFS_VERSION ?= v1.84.0

# The workspace root has no go.mod, so `go test ./...` does not work here (golang/go#50745):
# every target loops over the modules of go.work instead.
MODULES := shared gateway retrieve-svc invoke-svc deploy
PKGS := $(addsuffix /...,$(addprefix ./,$(MODULES)))
# RUN_COMMANDS are what make run starts and uses; doipbench is for make bench-system only.
RUN_COMMANDS := gateway/cmd/doip-gateway gateway/cmd/doipctl retrieve-svc/cmd/retrieve-svc invoke-svc/cmd/invoke-svc
COMMANDS := $(RUN_COMMANDS) gateway/cmd/doipbench

FUZZTIME ?= 20s
BENCH ?= .
BENCHTIME ?= 1s
RUN_ARGS ?=

.PHONY: help
help: ## Describe useful make targets
	@grep -E '^[a-zA-Z_-]+:.*?## .*$$' $(MAKEFILE_LIST) | sort | awk 'BEGIN {FS = ":.*?## "}; {printf "%-16s %s\n", $$1, $$2}'

.PHONY: all
all: build lint test ## Build, lint and test (the default)

.PHONY: build
build: ## Build doip-gateway, doipctl, retrieve-svc, invoke-svc and doipbench into bin/, with progress
	@./scripts/build.sh $(COMMANDS)

.PHONY: build-run
build-run: ## Build only what make run needs: doip-gateway, doipctl, retrieve-svc and invoke-svc
	@./scripts/build.sh $(RUN_COMMANDS)

.PHONY: run
run: build-run ## Start retrieve-svc, invoke-svc and the gateway on the embedded defaults (Ctrl-C stops all)
	@./scripts/run.sh $(RUN_ARGS)

# s3_note says before the tests run that the S3 tests will skip: go test shows their skip
# message only with -v.
s3_note = @if [ -z "$${VERSITYGW:-}" ] && ! command -v versitygw >/dev/null; then \
	echo "note: versitygw is not installed, so the S3 tests skip (make tools installs it)"; fi

.PHONY: test
test: ## Unit tests of every module, with the race detector (the end-to-end tests run too, under -short they skip)
	$(s3_note)
	@$(lakefs-notice)
	go test -race -count=1 $(PKGS)

# go test shows a passing package's output only under -v, so the e2e suite's own notice about a
# missing lakeFS would go unseen: make says it before the tests run.
define lakefs-notice
test -x $(BIN)/lakefs -a -x $(BIN)/lakectl || { \
  echo "*********************************************************************************"; \
  echo "* lakeFS is not installed in $(TMP)/bin: THE REAL-LAKEFS END-TO-END SUITE AND THE"; \
  echo "* NATIVE RUN OF docker-compose.yml (deploy TestComposeRun) WILL SKIP."; \
  echo "* Run make tools (it installs lakeFS $(LAKEFS_VERSION)) to run it."; \
  echo "*********************************************************************************"; }
endef

.PHONY: test-short
test-short: ## Unit tests only: end-to-end tests skip under -short
	$(s3_note)
	go test -race -short -count=1 $(PKGS)

.PHONY: compose-config
compose-config: ## Validate docker-compose.yml (no container engine needed)
	cd deploy && go test -run TestCompose ./...

.PHONY: chart-check
chart-check: ## Render, decode and lint the Helm chart (deploy/helm/doip-gateway) and check it against the binaries (no cluster needed)
	cd deploy && go test -count=1 -run TestHelm ./...

.PHONY: fuzz
fuzz: ## Run every fuzz target for FUZZTIME each
	@for pkg in $$(go list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.Dir}}{{end}}' $(PKGS)); do \
	  for t in $$(grep -ho '^func Fuzz[A-Za-z0-9_]*' $$pkg/*_test.go 2>/dev/null | sed 's/func //'); do \
	    echo "== $$pkg $$t"; (cd $$pkg && go test -run='^$$' -fuzz="^$$t$$" -fuzztime=$(FUZZTIME) .); \
	  done; \
	done

.PHONY: bench
bench: bench-go bench-system ## Go benchmarks, then the whole system under doipbench

.PHONY: bench-go
bench-go: ## Run the Go benchmarks of every module (BENCH selects)
	go test -run='^$$' -bench='$(BENCH)' -benchtime=$(BENCHTIME) -benchmem $(PKGS)

.PHONY: bench-extract
bench-extract: ## Score equation extraction on the corpus: LaTeX exactness, PDF precision/recall, pages per second
	cd invoke-svc && go run ./cmd/bench-extract -check

.PHONY: bench-system
bench-system: build ## Start the three services with large generated components and measure them with doipbench
	@./scripts/bench.sh

.PHONY: bench-slow
bench-slow: build ## What 200 readers at 1 KB/s cost the gateway and retrieve-svc, and a fast 512 MiB download beside it
	@./scripts/bench-slow.sh

.PHONY: lint
lint: $(BIN)/buf ## gofmt, go vet per module, buf lint and buf format
	@test -z "$$(gofmt -l $(MODULES))" || { gofmt -l $(MODULES); echo "gofmt: the files above need formatting"; exit 1; }
	go vet $(PKGS)
	buf lint
	buf format -d --exit-code

.PHONY: breaking
breaking: $(BIN)/buf ## Check the protos for wire-breaking changes against main
	buf breaking --against '.git#branch=main'

.PHONY: generate
generate: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc ## Regenerate the gRPC code under shared/gen
	buf generate
	cd shared && go mod tidy

.PHONY: checkgenerate
checkgenerate: generate ## Fail when the committed generated code is not current
	@git add -N shared/gen
	@git diff --exit-code -- shared/gen shared/go.mod shared/go.sum || { echo "generated code is stale: run make generate and commit"; exit 1; }

.PHONY: tools
tools: $(BIN)/buf $(BIN)/protoc-gen-go $(BIN)/protoc-gen-go-grpc $(BIN)/versitygw $(BIN)/lakefs debian-packages ## Install the pinned tools the checks and tests need into .tmp/bin (versitygw and lakeFS: the storage servers of the tests), and the Debian packages the tests drive

.PHONY: debian-packages
debian-packages: ## Install Debian's chromium (browser tests), nodejs (KaTeX parse check) and poppler-utils (apt-get, as root), where missing
	@./scripts/install-debian.sh

.PHONY: grpcurl
grpcurl: $(BIN)/grpcurl ## Install grpcurl into .tmp/bin, to poke the internal services

.PHONY: clean
clean: ## Remove everything git ignores (binaries, tools)
	git clean -Xdf

$(BIN)/buf:
	go install github.com/bufbuild/buf/cmd/buf@$(BUF_VERSION)
$(BIN)/protoc-gen-go:
	go install google.golang.org/protobuf/cmd/protoc-gen-go@$(PROTOC_GEN_GO_VERSION)
$(BIN)/protoc-gen-go-grpc:
	go install google.golang.org/grpc/cmd/protoc-gen-go-grpc@$(PROTOC_GEN_GO_GRPC_VERSION)
$(BIN)/grpcurl:
	go install github.com/fullstorydev/grpcurl/cmd/grpcurl@$(GRPCURL_VERSION)
$(BIN)/versitygw:
	go install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION)
$(BIN)/lakefs: scripts/install-lakefs.sh
	./scripts/install-lakefs.sh $(LAKEFS_VERSION) $(BIN)
