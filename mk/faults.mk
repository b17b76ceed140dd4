# The fault and cross-language suite (tests/faults): worker processes in
# Rust, C, Go and Python contend for one lock and one election on a real
# etcd while the suite kills, pauses, restarts and cuts things. test-faults
# is the long form (plus FAULTS_SEEDS randomized schedules); make test runs
# test-faults-bounded and test-faults-mutants-bounded. The mutant run
# checks that deliberately broken workers and library builds (the core's
# test-only mutant-* features, built in their own target dir) turn the
# suite red.

FAULTS_OUT  := build/faults
FAULTS_VENV  = $(PY_DIR)/faults-venv
FAULTS_ENV   = VINESYNC_FAULTS_REQUIRE_ALL=1 \
  VINESYNC_FAULTS_C=$(C_BUILD)/fault_worker_c \
  VINESYNC_FAULTS_GO=$(C_BUILD)/fault_worker_go \
  VINESYNC_FAULTS_PYTHON="$(FAULTS_VENV)/bin/python $(CURDIR)/tests/faults/workers/worker.py"

.PHONY: faults-build faults-mutants-build test-faults test-faults-bounded \
  test-faults-mutants test-faults-mutants-bounded

FAULTS_SEEDS    ?= 20
FAULTS_MUTANTS  := $(TARGET_DIR)/fault-mutants
MUTANT_FEATURES := mutant-no-l9-recheck mutant-unlock-no-guard mutant-waiter-keeps-key

faults-build: etcd-harness build-c go-lib ## build the suite and its workers in every language
	$(CARGO) build -q -p vinesync-faults
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) tests/faults/workers/worker.c -Iinclude $(FFI_LIBDIR)/libvinesync.a -lpthread -ldl -lm \
	  -o $(C_BUILD)/fault_worker_c
	cd bindings/go && $(GO) build $(GO_TAGS) $(GO_LIB_LDFLAGS) -o $(C_BUILD)/fault_worker_go ./cmd/vinesync-fault-worker
	$(MAKE) --no-print-directory python-wheel
	rm -rf $(FAULTS_VENV)
	$(PYTHON) -m venv $(FAULTS_VENV)
	$(FAULTS_VENV)/bin/pip install -q $(PY_WHEELS)/vinesync-*.whl

test-faults: faults-build fuzz ## the fault suite, long form with FAULTS_SEEDS randomized schedules, and the fuzz targets; summary in build/faults/
	$(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --seeds $(FAULTS_SEEDS) --out $(FAULTS_OUT)

FAULTS_BOUNDED  = $(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --bounded --out $(FAULTS_OUT)
MUTANTS_BOUNDED = $(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --mutants $(FAULTS_MUTANTS) --bounded --out $(FAULTS_OUT)/mutants

test-faults-bounded: faults-build ## the fault suite, short form
	$(FAULTS_BOUNDED)

# One Rust worker per library mutant, in a target dir of their own (the
# normal build is never a mutant).
faults-mutants-build:
	for m in $(MUTANT_FEATURES); do \
	  $(CARGO) build -q -p vinesync-faults --bin vinesync-fault-worker --features vinesync/$$m \
	    --target-dir $(TARGET_DIR)/mutants || exit 1; \
	  mkdir -p $(FAULTS_MUTANTS)/$$m; \
	  cp $(TARGET_DIR)/mutants/debug/vinesync-fault-worker $(FAULTS_MUTANTS)/$$m/; \
	done

test-faults-mutants: faults-build faults-mutants-build ## every mutant against the scenarios meant to catch it; fails if one survives
	$(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --mutants $(FAULTS_MUTANTS) --out $(FAULTS_OUT)/mutants

test-faults-mutants-bounded: faults-build faults-mutants-build ## the mutant run, each mutant until its first red scenario
	$(MUTANTS_BOUNDED)

# Both short forms at once (part of make test): each starts its own etcd
# and mostly waits on leases and restarts (about a fifth of one core each).
.PHONY: test-faults-and-mutants-bounded
test-faults-and-mutants-bounded: faults-build faults-mutants-build ## test-faults-bounded and test-faults-mutants-bounded side by side
	scripts/run-together.sh faults '$(FAULTS_BOUNDED)' mutants '$(MUTANTS_BOUNDED)'

TEST_TARGETS += test-faults-and-mutants-bounded

# cargo fuzz (nightly, libFuzzer + ASan) on the C ABI's argument handling,
# on election values written by others, and on random operation sequences
# against a model of the SPEC rules (memory store); FUZZ_SECONDS per target.
# New inputs go to a scratch corpus; the saved one (fuzz/corpus) is read.
CARGO_FUZZ_VERSION := 0.13.2
CARGO_FUZZ   := $(TARGET_DIR)/tools/bin/cargo-fuzz
FUZZ_SECONDS ?= 30
FUZZ_TARGETS := c_abi_arguments election_values memory_model

.PHONY: fuzz fuzz-replay

$(CARGO_FUZZ):
	$(CARGO) install -q cargo-fuzz --version $(CARGO_FUZZ_VERSION) --locked --root $(TARGET_DIR)/tools

fuzz: $(CARGO_FUZZ) ## run each cargo fuzz target for FUZZ_SECONDS (needs the nightly toolchain)
	@rustup run nightly rustc --version >/dev/null 2>&1 || \
	  { echo "fuzz: the nightly toolchain is missing (rustup toolchain install nightly)"; exit 1; }
	for t in $(FUZZ_TARGETS); do \
	  mkdir -p $(TARGET_DIR)/fuzz-corpus/$$t; \
	  PATH=$(TARGET_DIR)/tools/bin:$$PATH CARGO_TARGET_DIR=$(TARGET_DIR)/fuzz \
	    cargo +nightly fuzz run $$t $(TARGET_DIR)/fuzz-corpus/$$t fuzz/corpus/$$t -- -max_total_time=$(FUZZ_SECONDS) || exit 1; \
	done

# The saved corpus of every target through its body, on the stable
# toolchain (no libFuzzer): part of make test. Built in the mutants' target
# dir: the fuzz crate builds libvinesync without the test functions, and in
# the main target dir that copy would replace the test build's
# libvinesync.a that the C and Go tests link.
fuzz-replay: ## replay fuzz/corpus/<target> through each fuzz target's body (stable toolchain)
	$(CARGO) test -q --manifest-path fuzz/Cargo.toml --no-default-features --target-dir $(TARGET_DIR)/mutants

TEST_TARGETS += fuzz-replay
