# Rust: formatting, lints, the core's tests (conformance on memory, etcd
# single node and a 3-member cluster), docs and the Rust examples.

.PHONY: fmt-check clippy test-rust doc demo-rust msrv-check package-check

fmt-check: ## cargo fmt --check on the workspace
	$(CARGO) fmt --all -- --check

clippy: deps ## clippy with warnings denied (the crate also alone, with and without its default features)
	$(CARGO) clippy --workspace --all-targets $(CARGO_EXCLUDE) -- -D warnings
	$(CARGO) clippy -p vinesync -- -D warnings
	$(CARGO) clippy -p vinesync --no-default-features -- -D warnings

test-rust: deps etcd-harness ## core unit, doc and conformance tests (memory + real etcd)
	$(CARGO) test --workspace $(CARGO_EXCLUDE)

doc: ## build the crate docs, every item documented (the seed's examples are doc tests)
	RUSTDOCFLAGS="-D warnings -D missing_docs -D rustdoc::all" $(CARGO) doc -p vinesync --no-deps

msrv-check: ## the declared rust-version honours every locked dependency of the crate
	$(PYTHON) scripts/check-msrv.py

# Unpacked outside the repository (a directory below it would belong to the
# workspace); its dependencies build in their own cached target directory.
package-check: deps-build ## cargo package the crate, then build and test it unpacked (no workspace, no path deps)
	$(CARGO) package -q -p vinesync --allow-dirty --no-verify
	dir=$$(mktemp -d "$${TMPDIR:-/tmp}/vinesync-package.XXXXXX") && trap 'rm -rf "$$dir"' EXIT && \
	  tar xzf $(TARGET_DIR)/package/vinesync-$(VERSION).crate -C "$$dir" && \
	  cd "$$dir/vinesync-$(VERSION)" && CARGO_TARGET_DIR=$(TARGET_DIR)/package-target \
	  $(CARGO) test -q --locked

demo-rust: deps-build ## the seed's two examples in Rust
	@echo "== Rust: the seed's lock example =="
	$(CARGO) run -q -p vinesync --example lock
	@echo "== Rust: the seed's election example =="
	$(CARGO) run -q -p vinesync --example election

TEST_TARGETS := fmt-check clippy doc msrv-check test-rust $(TEST_TARGETS)
DEMO_TARGETS := demo-rust $(DEMO_TARGETS)

.PHONY: demo-etcd
demo-etcd: etcd-harness ## make demo on a throw-away local etcd (started and stopped here)
	$(ETCD_RUN) -- $(MAKE) --no-print-directory demo
