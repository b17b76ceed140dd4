# Python: the PyO3 extension built by maturin into an abi3 wheel, installed
# with pip into a fresh venv, tested there with pytest (memory and a real
# etcd), mypy --strict on the examples and stubtest on the stubs.

PY_DIR        := $(TARGET_DIR)/python
PY_BUILD_VENV := $(PY_DIR)/build-venv
PY_WHEELS     := $(PY_DIR)/wheels
PY_TEST_VENV  := $(PY_DIR)/test-venv
PY_DEMO_VENV  := $(PY_DIR)/demo-venv
# Tools the build and the tests need, from the package index.
PY_BUILD_REQS := "maturin>=1.9,<2"
PY_TEST_REQS  := "pytest>=7" "mypy>=1.10"

.PHONY: python-wheel wheel test-python demo-python

$(PY_BUILD_VENV)/bin/maturin:
	$(PYTHON) -m venv $(PY_BUILD_VENV)
	$(PY_BUILD_VENV)/bin/pip install -q $(PY_BUILD_REQS)

python-wheel: deps-build $(PY_BUILD_VENV)/bin/maturin ## build the vinesync wheel (debug build, for the tests and demos)
	rm -rf $(PY_WHEELS)
	$(PY_BUILD_VENV)/bin/maturin build -q -m bindings/python/Cargo.toml --profile dev --strip -o $(PY_WHEELS)

wheel: deps-build $(PY_BUILD_VENV)/bin/maturin ## build the release wheel into dist/ (pip install dist/vinesync-*.whl)
	$(PY_BUILD_VENV)/bin/maturin build -q -m bindings/python/Cargo.toml --release --strip -o dist

test-python: deps etcd-harness python-wheel ## pip install the wheel in a fresh venv; pytest there (memory + etcd), mypy, stubtest
	rm -rf $(PY_TEST_VENV)
	$(PYTHON) -m venv $(PY_TEST_VENV)
	$(PY_TEST_VENV)/bin/pip install -q $(PY_WHEELS)/vinesync-*.whl $(PY_TEST_REQS)
	cd bindings/python && VINESYNC_REQUIRE_ETCD=1 $(ETCD_RUN) -- $(PY_TEST_VENV)/bin/pytest -q tests

demo-python: python-wheel ## the seed's two examples in Python (memory; etcd when VINESYNC_NODES is set)
	test -x $(PY_DEMO_VENV)/bin/python || $(PYTHON) -m venv $(PY_DEMO_VENV)
	$(PY_DEMO_VENV)/bin/pip install -q --force-reinstall $(PY_WHEELS)/vinesync-*.whl
	@echo "== Python: the seed's lock example =="
	$(PY_DEMO_VENV)/bin/python examples/python/lock.py
	@echo "== Python: the seed's election example =="
	$(PY_DEMO_VENV)/bin/python examples/python/election.py

TEST_TARGETS += test-python
DEMO_TARGETS += demo-python
