# Python: the PyO3 extension built by maturin into an abi3 manylinux2014
# wheel (glibc >= 2.17; linked by zig from the ziglang package, so the
# machine's newer glibc is not required), checked with auditwheel, installed
# with pip into fresh venvs (the oldest and newest CPython the machine has,
# plus $(PYTHON)), tested there with pytest (memory and a real etcd), mypy
# --strict on the examples and stubtest on the stubs.

PY_DIR        := $(TARGET_DIR)/python
PY_BUILD_VENV := $(PY_DIR)/build-venv
PY_WHEELS     := $(PY_DIR)/wheels
PY_TEST_VENV  := $(PY_DIR)/test-venv
PY_DEMO_VENV  := $(PY_DIR)/demo-venv
# Tools the build and the tests need, from the package index.
PY_BUILD_REQS := "maturin>=1.9,<2" "ziglang>=0.13,<0.14" "auditwheel>=6"
PY_TEST_REQS  := "pytest>=7" "mypy>=1.10"
# The wheel's platform: manylinux2014 = glibc 2.17 (RHEL 7+, Ubuntu 14.04+).
PY_PLATFORM   := --zig --compatibility manylinux2014
# Extra interpreters the suite also runs on, when the machine has them
# (pyenv's): the oldest CPython the wheel supports and the newest.
PY_EXTRA      := $(wildcard $(HOME)/.pyenv/versions/3.9.*/bin/python3.9 $(HOME)/.pyenv/versions/3.13.*/bin/python3.13)

.PHONY: python-wheel wheel test-python demo-python

$(PY_BUILD_VENV)/bin/maturin:
	$(PYTHON) -m venv $(PY_BUILD_VENV)
	$(PY_BUILD_VENV)/bin/pip install -q $(PY_BUILD_REQS)

# maturin finds zig through the build venv's python on PATH.
PY_MATURIN    := PATH=$(PY_BUILD_VENV)/bin:$$PATH $(PY_BUILD_VENV)/bin/maturin build -q -m bindings/python/Cargo.toml $(PY_PLATFORM) --strip

$(PY_BUILD_VENV)/bin/auditwheel: $(PY_BUILD_VENV)/bin/maturin
	$(PY_BUILD_VENV)/bin/pip install -q $(PY_BUILD_REQS)

python-wheel: deps-build $(PY_BUILD_VENV)/bin/maturin $(PY_BUILD_VENV)/bin/auditwheel ## build the test wheel (debug build with the test hooks, for the tests and demos)
	rm -rf $(PY_WHEELS)
	$(PY_MATURIN) --profile dev --features test-hooks -o $(PY_WHEELS)

wheel: deps-build $(PY_BUILD_VENV)/bin/maturin $(PY_BUILD_VENV)/bin/auditwheel ## build the release wheel and sdist into dist/ (pip install dist/vinesync-*.whl)
	$(PY_MATURIN) --release --sdist -o dist
	$(PY_BUILD_VENV)/bin/auditwheel show dist/vinesync-*.whl

test-python: deps etcd-harness python-wheel ## auditwheel; pip install the wheel in fresh venvs (CPython 3.9, 3.13, $(PYTHON)); pytest there (memory + etcd), mypy, stubtest
	$(PY_BUILD_VENV)/bin/auditwheel show $(PY_WHEELS)/vinesync-*.whl | tee $(PY_DIR)/auditwheel.txt
	tr -s '[:space:]' ' ' < $(PY_DIR)/auditwheel.txt | grep -q 'following platform tag: "manylinux_2_17_x86_64"' \
	  || { echo "the wheel is not manylinux2014 (glibc 2.17)"; exit 1; }
	for python in $(PYTHON) $(PY_EXTRA); do \
	  venv=$(PY_TEST_VENV)-$$(basename $$python); \
	  rm -rf $$venv && $$python -m venv $$venv; \
	  $$venv/bin/pip install -q $(PY_WHEELS)/vinesync-*.whl $(PY_TEST_REQS); \
	  echo "== Python suite on $$($$venv/bin/python --version) =="; \
	  (cd bindings/python && VINESYNC_REQUIRE_ETCD=1 VINESYNC_ETCD_HARNESS=$(ETCD_HARNESS) \
	    $(ETCD_RUN) -- $$venv/bin/pytest -q tests) || exit 1; \
	done

demo-python: python-wheel ## the seed's two examples in Python (memory; etcd when VINESYNC_NODES is set)
	test -x $(PY_DEMO_VENV)/bin/python || $(PYTHON) -m venv $(PY_DEMO_VENV)
	$(PY_DEMO_VENV)/bin/pip install -q --force-reinstall $(PY_WHEELS)/vinesync-*.whl
	@echo "== Python: the seed's lock example =="
	$(PY_DEMO_VENV)/bin/python examples/python/lock.py
	@echo "== Python: the seed's election example =="
	$(PY_DEMO_VENV)/bin/python examples/python/election.py

TEST_TARGETS += test-python
DEMO_TARGETS += demo-python
