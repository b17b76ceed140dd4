# Rust: formatting, lints, the core's tests (conformance on memory, etcd
# single node and a 3-member cluster), docs and the Rust examples.

.PHONY: fmt-check clippy test-rust doc demo-rust

fmt-check: ## cargo fmt --check on the workspace
	$(CARGO) fmt --all -- --check

clippy: deps ## clippy with warnings denied
	$(CARGO) clippy --workspace --all-targets $(CARGO_EXCLUDE) -- -D warnings

test-rust: deps etcd-harness ## core unit, doc and conformance tests (memory + real etcd)
	$(CARGO) test --workspace $(CARGO_EXCLUDE)

doc: ## build the crate docs (the seed's examples are doc tests)
	RUSTDOCFLAGS="-D warnings" $(CARGO) doc -p vinesync --no-deps

demo-rust: deps-build ## the seed's two examples in Rust
	@echo "== Rust: the seed's lock example =="
	$(CARGO) run -q -p vinesync --example lock
	@echo "== Rust: the seed's election example =="
	$(CARGO) run -q -p vinesync --example election

TEST_TARGETS := fmt-check clippy doc test-rust $(TEST_TARGETS)
DEMO_TARGETS := demo-rust $(DEMO_TARGETS)

.PHONY: demo-etcd
demo-etcd: etcd-harness ## make demo on a throw-away local etcd (started and stopped here)
	$(ETCD_RUN) -- $(MAKE) --no-print-directory demo
