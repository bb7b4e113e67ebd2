# ferry's developer and CI entry points.
#
#   make test    everything CI tests: installs/starts the tools (make tools), builds the
#                workspace once, runs the Rust tests (nextest when installed, else cargo test),
#                the Python black-box tests (tests/python), the grpcurl smoke tests, the
#                demo (make demo-check) and the benchmark harness in --quick mode
#   make demo    ferry up with one local agent and a first deployment of examples/hello-site
#   make lint    rustfmt check, clippy with -D warnings, buf lint
#   make tools   scripts/install-tools.sh: Python venv (.venv), grpcurl, buf, PostgreSQL, Redis
#   make bench   the registry, DownloadBundle and agent benchmarks, then ferry-bench's five
#                end-to-end scenarios (about 7 minutes; figures in BENCHMARKS.md)
#
# `make test TOOLS=` skips the tools step (when they are already installed and running).

SHELL := bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := test
MAKEFLAGS += --no-print-directory

ROOT := $(patsubst %/,%,$(dir $(abspath $(lastword $(MAKEFILE_LIST)))))
FERRY_VENV ?= $(ROOT)/.venv
PYTHON := $(FERRY_VENV)/bin/python
CARGO ?= cargo

# The PostgreSQL database the tests also run against (started by scripts/install-tools.sh).
# The ferry binaries read FERRY_* variables as config (and warn about names that are no
# setting): the test harnesses do not pass FERRY_TEST_*, FERRY_BIN_DIR or FERRY_VENV on to them.
export FERRY_TEST_POSTGRES_URL ?= postgres://postgres@127.0.0.1:5432/test
FERRY_BIN_DIR ?= $(ROOT)/target/debug
HARNESS_ENV := FERRY_VENV=$(FERRY_VENV) FERRY_BIN_DIR=$(FERRY_BIN_DIR)

# The tools step that lint and test depend on; `TOOLS=` disables it.
TOOLS ?= tools

HAVE_NEXTEST := $(shell $(CARGO) nextest --version >/dev/null 2>&1 && echo yes)
NEXTEST_ARGS ?= --no-fail-fast --no-tests=warn
CARGO_TEST_ARGS ?= --no-fail-fast
PYTEST_ARGS ?=

.PHONY: all tools lint fmt-check clippy buf-lint single-versions build test test-rust test-python smoke demo demo-check bench bench-quick agent-dist ci clean-python

all: test

tools:
	@FERRY_VENV=$(FERRY_VENV) $(ROOT)/scripts/install-tools.sh

# ------------------------------------------------------------------------------------------
# Lint

lint: $(TOOLS) fmt-check clippy buf-lint single-versions

fmt-check:
	$(CARGO) fmt --all -- --check

clippy:
	$(CARGO) clippy --workspace --all-targets -- -D warnings

buf-lint:
	buf lint

# Exactly one version of the gRPC stack in the build: two tonics or prosts would mean two
# incompatible sets of generated types, and two tokios two runtimes.
single-versions:
	@dups="$$($(CARGO) tree --workspace -e normal,build --prefix none --format '{p}' \
		| awk '{print $$1, $$2}' | sort -u | awk '{print $$1}' | uniq -d \
		| grep -xE 'tonic|tonic-prost|prost|prost-types|tokio|hyper|h2' || true)"; \
	if [ -n "$$dups" ]; then echo "more than one version of: $$dups"; exit 1; fi

# ------------------------------------------------------------------------------------------
# Build and test

# One build of everything (binaries, tests, benches); the test steps below reuse it.
build:
	$(CARGO) build --workspace --all-targets

test: $(TOOLS) build
	@$(MAKE) test-rust
	@$(MAKE) test-python
	@$(MAKE) smoke
	@$(MAKE) demo-check
	@$(MAKE) bench-quick

test-rust:
ifeq ($(HAVE_NEXTEST),yes)
	$(CARGO) test --workspace --doc
	$(CARGO) nextest run --workspace $(NEXTEST_ARGS)
else
	$(CARGO) test --workspace $(CARGO_TEST_ARGS)
endif

# Needs target/debug/ferry-registry (make build) and the venv (make tools).
test-python:
	@test -x $(PYTHON) || { echo "$(PYTHON) missing: run 'make tools'" >&2; exit 1; }
	$(HARNESS_ENV) $(PYTHON) -m pytest $(ROOT)/tests/python $(PYTEST_ARGS)

smoke:
	$(HARNESS_ENV) $(ROOT)/scripts/grpcurl-smoke.sh
	$(HARNESS_ENV) $(ROOT)/scripts/grpcurl-deploy-smoke.sh

ci: lint test

# The README's first command: `ferry up` with one local agent and a first deployment of
# examples/hello-site, watched live; ferry keeps running until Ctrl-C.
demo:
	$(ROOT)/scripts/demo.sh

# The same, non-interactive, on a throwaway data directory and spare ports (part of `make test`).
demo-check:
	@data="$$(mktemp -d)"; \
	FERRY_DEMO_PROFILE=dev FERRY_DEMO_EXIT=1 FERRY_DEMO_DATA="$$data" \
	FERRY_DEMO_LISTEN=127.0.0.1:50997 HELLO_SITE_PORT=18097 $(ROOT)/scripts/demo.sh; \
	status=$$?; rm -rf "$$data"; exit $$status

# ------------------------------------------------------------------------------------------
# Benchmarks: each prints a table (figures and what limits them: BENCHMARKS.md).

bench:
	$(CARGO) bench -p ferry-registry --bench registry
	$(CARGO) bench -p ferry-revisions --bench download
	$(CARGO) bench -p ferry-agent --bench agent
	$(CARGO) run --release -p ferry-bench

# The end-to-end benchmarks in seconds (fewer deployments and agents, a dev build).
bench-quick:
	$(CARGO) run -p ferry-bench -- --quick

# ------------------------------------------------------------------------------------------
# The agent as shipped: one stripped, statically linked binary (glibc's crt-static; see
# services/agent/README.md for what that means for DNS) at
# target/x86_64-unknown-linux-gnu/dist/ferry-agent.

agent-dist:
	RUSTFLAGS="-C target-feature=+crt-static" $(CARGO) build --profile dist -p ferry-agent --target x86_64-unknown-linux-gnu

clean-python:
	rm -rf $(ROOT)/tests/python/_gen
