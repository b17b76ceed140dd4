# make bench: one table of vinesync against the baselines a user would pick
# instead, all measured in the same run on a fresh etcd: the Rust rows and
# baselines (bench/src), and lock+unlock from C, Go and Python (release
# builds of libvinesync and of the wheel) with python-etcd3 as the Python
# baseline. BENCH_ARGS=--quick measures less. Results: bench-results/, and
# the table (with machine, etcd version and date) in bench/RESULTS.md.
#
# Ratios are measured interleaved: in-process rows alternate baseline and
# subject in short rounds; the C, Go and Python etcd rows run BENCH_ROUNDS
# short rounds, each between two rounds of the Rust floor in its own process.
# The Rust etcd rows, floor included, run on a current-thread runtime, as the
# floor rounds do (bench/src/main.rs says why).
# Then the etcd rows again on the newest pinned etcd (mk/etcd.mk).

BENCH_OUT   := bench-results
BENCH_VENV   = $(PY_DIR)/bench-venv
BENCH_QUICK := $(if $(filter --quick,$(BENCH_ARGS)),1,0)
BENCH_ROUNDS := $(if $(filter 1,$(BENCH_QUICK)),5,15)
BENCH_ROUND_OPS := $(if $(filter 1,$(BENCH_QUICK)),10,30)
BENCH_BIN = $(TARGET_DIR)/release/vinesync-bench

.PHONY: bench bench-build

bench-build: etcd-harness ## build what make bench runs (release libvinesync, wheel, C and Go programs)
	$(CARGO) build -q --release -p vinesync-bench -p vinesync-ffi
	@mkdir -p $(C_BUILD) bindings/go/lib/linux_amd64
	$(CC) -std=c11 -O2 -Wall -Wextra -Werror bench/c/bench.c -Iinclude \
	  $(TARGET_DIR)/release/libvinesync.a -lpthread -ldl -lm -o $(C_BUILD)/bench_c
	cp $(TARGET_DIR)/release/libvinesync.a bindings/go/lib/linux_amd64/libvinesync.a
	cd bindings/go && $(GO) build -tags vinesync_bundled \
	  -ldflags "-X main.libHash=$$(sha256sum lib/linux_amd64/libvinesync.a | cut -c1-16)" \
	  -o $(C_BUILD)/bench_go ./cmd/vinesync-bench-go
	$(MAKE) --no-print-directory $(PY_BUILD_VENV)/bin/maturin
	rm -rf $(PY_DIR)/release-wheels
	$(PY_BUILD_VENV)/bin/maturin build -q -m bindings/python/Cargo.toml --release --strip -o $(PY_DIR)/release-wheels
	test -x $(BENCH_VENV)/bin/python || $(PYTHON) -m venv $(BENCH_VENV)
	# python-etcd3 0.12 needs protobuf < 3.21.
	$(BENCH_VENV)/bin/pip install -q --force-reinstall $(PY_DIR)/release-wheels/vinesync-*.whl
	$(BENCH_VENV)/bin/pip install -q "etcd3==0.12.0" "protobuf<3.21"

bench: bench-build etcd-versions ## benchmarks against same-run baselines on a fresh etcd; table + bench-results/ + bench/RESULTS.md
	@mkdir -p $(BENCH_OUT)
	BENCH_QUICK=$(BENCH_QUICK) $(ETCD_RUN) -- bash -c '\
	  set -euo pipefail; \
	  $(C_BUILD)/bench_c > $(BENCH_OUT)/external.jsonl; \
	  $(C_BUILD)/bench_go >> $(BENCH_OUT)/external.jsonl; \
	  $(BENCH_VENV)/bin/python bench/python/bench.py >> $(BENCH_OUT)/external.jsonl; \
	  : > $(BENCH_OUT)/rounds.jsonl; \
	  for round in $$(seq $(BENCH_ROUNDS)); do \
	    for program in $(C_BUILD)/bench_c $(C_BUILD)/bench_go "$(BENCH_VENV)/bin/python bench/python/bench.py"; do \
	      BENCH_ETCD_OPS=$(BENCH_ROUND_OPS) $(BENCH_BIN) floor-round >> $(BENCH_OUT)/rounds.jsonl; \
	      BENCH_ETCD_OPS=$(BENCH_ROUND_OPS) $$program >> $(BENCH_OUT)/rounds.jsonl; \
	    done; \
	  done; \
	  BENCH_ETCD_OPS=$(BENCH_ROUND_OPS) $(BENCH_BIN) floor-round >> $(BENCH_OUT)/rounds.jsonl; \
	  $(BENCH_BIN) --out $(BENCH_OUT) --external $(BENCH_OUT)/external.jsonl \
	    --external-rounds $(BENCH_OUT)/rounds.jsonl $(BENCH_ARGS)'
	VINESYNC_ETCD_DIR=$(ETCD_BUILDS)/$(ETCD_NEWEST) $(ETCD_RUN) -- \
	  $(BENCH_BIN) --etcd-only --out $(BENCH_OUT)/etcd-$(ETCD_NEWEST) $(BENCH_ARGS)
	{ printf '# make bench results\n\nWritten by `make bench` (mk/bench.mk); targets from issue 22. '; \
	  printf 'Misses are shown as measured.\n\n'; \
	  cat $(BENCH_OUT)/results.md; echo; cat $(BENCH_OUT)/etcd-$(ETCD_NEWEST)/results.md; } > bench/RESULTS.md
	@echo "table written to bench/RESULTS.md"
