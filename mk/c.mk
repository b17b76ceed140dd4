# C ABI: libvinesync (.so, .a), include/vinesync.h (cbindgen, pinned),
# install with pkg-config, C tests under ASan+UBSan and valgrind, C demos.

CBINDGEN_VERSION := 0.29.4
CBINDGEN   := $(TARGET_DIR)/tools/bin/cbindgen
PREFIX     ?= /usr/local
C_BUILD    := $(CURDIR)/build/c
C_PREFIX   := $(C_BUILD)/prefix
FFI_LIBDIR := $(TARGET_DIR)/debug
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
CC         ?= cc
C_FLAGS    := -std=c11 -Wall -Wextra -Werror -g -O1 -pthread

.PHONY: build-c header check-header install test-c test-c-plain test-c-asan test-c-valgrind demo-c

build-c: deps-build ## build libvinesync.so and libvinesync.a
	$(CARGO) build -q -p vinesync-ffi

$(CBINDGEN):
	$(CARGO) install -q cbindgen --version $(CBINDGEN_VERSION) --locked --root $(TARGET_DIR)/tools

header: $(CBINDGEN) ## regenerate include/vinesync.h with the pinned cbindgen
	CBINDGEN=$(CBINDGEN) scripts/gen-header.sh include/vinesync.h

check-header: $(CBINDGEN) ## fail when include/vinesync.h differs from a fresh generation
	@mkdir -p $(C_BUILD)
	CBINDGEN=$(CBINDGEN) scripts/gen-header.sh $(C_BUILD)/vinesync.h
	@diff -u include/vinesync.h $(C_BUILD)/vinesync.h || \
	  { echo "include/vinesync.h is stale: run 'make header' and commit it"; exit 1; }

# Installs from the last build-c; `make install PREFIX=...`.
install: build-c ## install the libraries, header and vinesync.pc under PREFIX
	install -d $(PREFIX)/lib/pkgconfig $(PREFIX)/include
	install -m 644 include/vinesync.h $(PREFIX)/include/
	install -m 755 $(FFI_LIBDIR)/libvinesync.so $(PREFIX)/lib/
	install -m 644 $(FFI_LIBDIR)/libvinesync.a $(PREFIX)/lib/
	sed -e 's|@PREFIX@|$(PREFIX)|' -e 's|@VERSION@|$(VERSION)|' ffi/vinesync.pc.in > $(PREFIX)/lib/pkgconfig/vinesync.pc

# The tests compile against an installed copy, as a user would.
PKG := PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig pkg-config
$(C_BUILD)/installed: build-c
	$(MAKE) --no-print-directory install PREFIX=$(C_PREFIX)
	@touch $@

$(C_BUILD)/test_vinesync: tests/c/test_vinesync.c $(C_BUILD)/installed
	$(CC) $(C_FLAGS) tests/c/test_vinesync.c $$($(PKG) --cflags --libs vinesync) -Wl,-rpath,$(C_PREFIX)/lib -o $@

$(C_BUILD)/test_vinesync_asan: tests/c/test_vinesync.c $(C_BUILD)/installed
	$(CC) $(C_FLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer tests/c/test_vinesync.c \
	  $$($(PKG) --cflags vinesync) $(C_PREFIX)/lib/libvinesync.a -lpthread -ldl -lm -o $@

test-c-plain: $(C_BUILD)/test_vinesync etcd-harness ## C tests on memory and on a real etcd
	$(C_BUILD)/test_vinesync
	$(ETCD_RUN) -- $(C_BUILD)/test_vinesync

test-c-asan: $(C_BUILD)/test_vinesync_asan etcd-harness ## C tests under AddressSanitizer + UBSan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(C_BUILD)/test_vinesync_asan
	ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 $(ETCD_RUN) -- $(C_BUILD)/test_vinesync_asan

VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
test-c-valgrind: $(C_BUILD)/test_vinesync ## C tests under valgrind (memory backend)
	$(VALGRIND) $(C_BUILD)/test_vinesync

test-c: check-header test-c-plain test-c-asan test-c-valgrind ## every C test

TEST_TARGETS += test-c

C_DEMOS := $(C_BUILD)/lock $(C_BUILD)/election $(C_BUILD)/lock_raii
$(C_BUILD)/%: examples/c/%.c $(C_BUILD)/installed
	$(CC) $(C_FLAGS) $< $$($(PKG) --cflags --libs vinesync) -Wl,-rpath,$(C_PREFIX)/lib -o $@
$(C_BUILD)/lock_raii: examples/cpp/lock_raii.cpp $(C_BUILD)/installed
	$(CXX) -std=c++17 -Wall -Wextra -Werror -g -pthread $< $$($(PKG) --cflags --libs vinesync) -Wl,-rpath,$(C_PREFIX)/lib -o $@

demo-c: $(C_DEMOS) ## the seed's examples in C (and the lock one in C++ with RAII)
	@echo "== C: the seed's lock example =="
	$(C_BUILD)/lock
	@echo "== C: the seed's election example =="
	$(C_BUILD)/election
	@echo "== C++: the lock example with RAII guards =="
	$(C_BUILD)/lock_raii

DEMO_TARGETS += demo-c

$(C_BUILD)/test_secured: tests/c/test_secured.c $(C_BUILD)/installed
	$(CC) $(C_FLAGS) tests/c/test_secured.c $$($(PKG) --cflags --libs vinesync) -Wl,-rpath,$(C_PREFIX)/lib -o $@
