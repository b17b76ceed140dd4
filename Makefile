# vinesync — `make help` lists the targets.
#
# Each language's targets live in mk/<name>.mk (included below), so one file
# owns one concern. Variables every fragment may use:
#   CARGO        cargo command
#   TARGET_DIR   cargo's target directory (honours CARGO_TARGET_DIR)
#   ETCD_RUN     runs a command with a fresh etcd: $(ETCD_RUN) [--members 3] -- CMD
#   PYTHON       the Python 3 interpreter

SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

CARGO      ?= cargo
PYTHON     ?= python3
TARGET_DIR := $(abspath $(or $(CARGO_TARGET_DIR),$(CURDIR)/target))
export CARGO_TARGET_DIR := $(TARGET_DIR)
ETCD_HARNESS := $(TARGET_DIR)/debug/vinesync-etcd
ETCD_RUN   := $(ETCD_HARNESS) run

# Test targets added by the fragments (each appends to TEST_TARGETS).
TEST_TARGETS :=
DEMO_TARGETS :=

.PHONY: help
help: ## list the targets
	@grep -hE '^[a-zA-Z0-9_-]+:.*## ' $(MAKEFILE_LIST) | sort -u | \
	  awk 'BEGIN {FS = ":.*## "}; {printf "  \033[36m%-16s\033[0m %s\n", $$1, $$2}'

.PHONY: deps
deps: ## install what is missing (etcd, etcdctl, protoc) with apt-get
	@scripts/ensure-etcd.sh

.PHONY: deps-build
deps-build: ## install what building needs (protoc) with apt-get
	@scripts/ensure-etcd.sh --build-only

.PHONY: etcd-harness
etcd-harness: deps ## build the etcd test harness (vinesync-etcd run|serve)
	$(CARGO) build -q -p vinesync-testkit --bin vinesync-etcd

-include mk/*.mk

.PHONY: demo
demo: deps-build $(DEMO_TARGETS) ## run the seed's lock and election examples (memory; etcd when VINESYNC_NODES is set)

.PHONY: test
test: deps ## install what is missing, start etcd, run every suite (times each)
	@MAKE="$(MAKE)" scripts/run-suites.sh $(TEST_TARGETS)
	@echo "make test: every suite passed ($(TEST_TARGETS))"
