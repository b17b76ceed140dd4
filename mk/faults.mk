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
	cd bindings/go && $(GO) build -o $(C_BUILD)/fault_worker_go ./cmd/vinesync-fault-worker
	$(MAKE) --no-print-directory python-wheel
	rm -rf $(FAULTS_VENV)
	$(PYTHON) -m venv $(FAULTS_VENV)
	$(FAULTS_VENV)/bin/pip install -q $(PY_WHEELS)/vinesync-*.whl

test-faults: faults-build ## the fault suite, long form; summary in build/faults/
	$(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --out $(FAULTS_OUT)

test-faults-bounded: faults-build ## the fault suite, short form (part of make test)
	$(FAULTS_ENV) $(TARGET_DIR)/debug/vinesync-faults --bounded --out $(FAULTS_OUT)

TEST_TARGETS += test-faults-bounded
