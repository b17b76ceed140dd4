# The fault and cross-language suite (tests/faults): worker processes in
# Rust, C, Go and Python contend for one lock and one election on a real
# etcd while the suite kills, pauses, restarts and cuts things. test-faults
# is the long form; make test runs test-faults-bounded.

FAULTS_OUT  := build/faults
FAULTS_VENV  = $(PY_DIR)/faults-venv
FAULTS_ENV   = VINESYNC_FAULTS_REQUIRE_ALL=1 \
  VINESYNC_FAULTS_C=$(C_BUILD)/fault_worker_c \
  VINESYNC_FAULTS_GO=$(C_BUILD)/fault_worker_go \
  VINESYNC_FAULTS_PYTHON="$(FAULTS_VENV)/bin/python $(CURDIR)/tests/faults/workers/worker.py"

.PHONY: faults-build test-faults test-faults-bounded

faults-build: etcd-harness build-c go-lib ## build the suite and its workers in every language
	$(CARGO) build -q -p vinesync-faults
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) tests/faults/workers/worker.c -Iinclude $(FFI_LIBDIR)/libvinesync.a -lpthread -ldl -lm \
	  -o $(C_BUILD)/fault_worker_c
	cd bindings/go && $(GO) build -tags vinesync_test -o $(C_BUILD)/fault_worker_go ./cmd/vinesync-fault-worker
	$(MAKE) --no-print-directory python-wheel
	rm -rf $(FAULTS_VENV)
	$(PYTHON) -m venv $(FAULTS_VENV)
	$(FAULTS_VENV)/bin/pip install -q $(PY_WHEELS)/vinesync-*.whl

test-faults: faults-build fuzz ## the fault suite, long form, and the fuzz targets; summary in build/faults/
	$(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --out $(FAULTS_OUT)

test-faults-bounded: faults-build ## the fault suite, short form (part of make test)
	$(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --bounded --out $(FAULTS_OUT)

TEST_TARGETS += test-faults-bounded

# cargo fuzz (nightly, libFuzzer + ASan) on the C ABI's argument handling
# and on election values written by others; FUZZ_SECONDS per target.
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ   := $(TARGET_DIR)/tools/bin/cargo-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := c_abi_arguments election_values

.PHONY: fuzz

$(CARGO_FUZZ):
	$(CARGO) install -q cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root $(TARGET_DIR)/tools

fuzz: $(CARGO_FUZZ) ## run each cargo fuzz target for FUZZ_SECONDS (needs the nightly toolchain)
	@rustup run nightly rustc --version >/dev/null 2>&1 || \
	  { echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)"; exit 1; }
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(TARGET_DIR)/fuzz-corpus/$$t; \
	  PATH=$(TARGET_DIR)/tools/bin:$$PATH CARGO_TARGET_DIR=$(TARGET_DIR)/fuzz \
	    cargo +nightly fuzz run $$t $(TARGET_DIR)/fuzz-corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done
