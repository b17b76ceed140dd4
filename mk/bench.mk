# make bench: one table of vinesync against the baselines a user would pick
# instead, all measured in the same run on a fresh etcd: the Rust rows and
# baselines (bench/src), and lock+unlock from C, Go and Python (release
# builds of libvinesync and of the wheel) with python-etcd3 as the Python
# baseline. BENCH_ARGS=--quick measures less. Results: bench-results/.

BENCH_OUT   := bench-results
BENCH_VENV   = $(PY_DIR)/bench-venv
BENCH_QUICK := $(if $(filter --quick,$(BENCH_ARGS)),1,0)

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

bench: bench-build ## benchmarks against same-run baselines on a fresh etcd; table + bench-results/results.{json,csv}
	@mkdir -p $(BENCH_OUT)
	BENCH_QUICK=$(BENCH_QUICK) $(ETCD_RUN) -- bash -c '\
	  set -euo pipefail; \
	  $(C_BUILD)/bench_c > $(BENCH_OUT)/external.jsonl; \
	  $(C_BUILD)/bench_go >> $(BENCH_OUT)/external.jsonl; \
	  $(BENCH_VENV)/bin/python bench/python/bench.py >> $(BENCH_OUT)/external.jsonl; \
	  $(TARGET_DIR)/release/vinesync-bench --out $(BENCH_OUT) --external $(BENCH_OUT)/external.jsonl $(BENCH_ARGS)'
