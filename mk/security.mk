# Security: every language against etcd with mutual TLS and auth (a user
# whose role covers /secured/ only), started by the harness with
# certificates generated for the run. The Rust side is core/tests/etcd_security.rs
# (part of test-rust); here the C, Go and Python tests and the seed's
# examples of every language run on the secured cluster.

SECURED_RUN := $(ETCD_RUN) --mtls --auth --

.PHONY: test-security

test-security: etcd-harness $(C_BUILD)/test_secured go-lib python-wheel ## C, Go, Python and the demos on etcd with mTLS + auth
	$(SECURED_RUN) $(C_BUILD)/test_secured
	cd bindings/go && CGO_ENABLED=1 $(SECURED_RUN) $(GO) test $(GO_TAGS) $(GO_LIB_LDFLAGS) -count=1 -run TestSecured -v ./sync | grep -E '^(--- |ok|FAIL|PASS)'
	rm -rf $(PY_DIR)/secured-venv
	$(PYTHON) -m venv $(PY_DIR)/secured-venv
	$(PY_DIR)/secured-venv/bin/pip install -q $(PY_WHEELS)/vinesync-*.whl "pytest>=7"
	cd bindings/python && $(SECURED_RUN) $(PY_DIR)/secured-venv/bin/pytest -q tests/test_security.py
	$(SECURED_RUN) $(MAKE) --no-print-directory demo

TEST_TARGETS += test-security
