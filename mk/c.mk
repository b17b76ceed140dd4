# C ABI: libvinesync (.so, .a), include/vinesync.h (cbindgen, pinned),
# install (release build, SONAME, pkg-config and CMake package), C tests
# under ASan+UBSan and valgrind, C demos.
#
# Two builds of the library: the test build (debug, cargo feature
# test-util: adds the vs_sync_fault_* of include/vinesync_test.h), used by
# the C, Go and fault tests; the release build, the only one installed.

CBINDGEN_VERSION := 0.29.4
CBINDGEN   := $(TARGET_DIR)/tools/bin/cbindgen
PREFIX     ?= /usr/local
LIBDIR     ?= $(PREFIX)/lib
INCLUDEDIR ?= $(PREFIX)/include
DESTDIR    ?=
C_BUILD    := $(CURDIR)/build/c
C_PREFIX   := $(C_BUILD)/prefix
FFI_LIBDIR := $(TARGET_DIR)/debug
FFI_RELEASE_LIBDIR := $(TARGET_DIR)/release
VERSION    := $(shell sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
SO_MAJOR   := $(firstword $(subst ., ,$(VERSION)))
CC         ?= cc
C_FLAGS    := -std=c11 -Wall -Wextra -Werror -g -O1 -pthread
C_LIBS     := -lpthread -ldl -lm

.PHONY: build-c build-c-release header check-header install install-lib test-c test-c-plain test-c-asan \
  test-c-valgrind test-c-exit test-c-install demo-c

build-c: deps-build ## build the test build of libvinesync (debug, with the fault functions)
	$(CARGO) build -q -p vinesync-ffi --features test-util

build-c-release: deps-build ## build the release libvinesync.so and libvinesync.a (what make install installs)
	$(CARGO) build -q --release -p vinesync-ffi

$(CBINDGEN):
	$(CARGO) install -q cbindgen --version $(CBINDGEN_VERSION) --locked --root $(TARGET_DIR)/tools

header: $(CBINDGEN) ## regenerate include/vinesync.h with the pinned cbindgen
	CBINDGEN=$(CBINDGEN) scripts/gen-header.sh include/vinesync.h

check-header: $(CBINDGEN) ## fail when include/vinesync.h differs from a fresh generation
	@mkdir -p $(C_BUILD)
	CBINDGEN=$(CBINDGEN) scripts/gen-header.sh $(C_BUILD)/vinesync.h
	@diff -u include/vinesync.h $(C_BUILD)/vinesync.h || \
	  { echo "include/vinesync.h is stale: run 'make header' and commit it"; exit 1; }
	@# C++ programs may include the standard headers after ours.
	printf '#include <vinesync.h>\n#include <cstdlib>\n#include <cstdio>\nint main() { return 0; }\n' | \
	  $(CXX) -std=c++17 -Wall -Wextra -Werror -Iinclude -x c++ -fsyntax-only -

# `make install [DESTDIR=staging] [PREFIX=/usr] [LIBDIR=...] [INCLUDEDIR=...]`:
# the release build without debug info, libvinesync.so.VERSION with its
# SONAME link libvinesync.so.MAJOR and dev link libvinesync.so, the static
# library, the header, vinesync.pc and the CMake package (vinesync::vinesync
# shared, vinesync::vinesync_static static). `install-lib` installs just
# these; `install` adds the vinesync command (mk/cli.mk).
install: install-lib
install-lib: build-c-release ## install the release libraries, header, vinesync.pc and CMake package
	install -d $(DESTDIR)$(LIBDIR)/pkgconfig $(DESTDIR)$(LIBDIR)/cmake/vinesync $(DESTDIR)$(INCLUDEDIR)
	install -m 644 include/vinesync.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 755 $(FFI_RELEASE_LIBDIR)/libvinesync.so $(DESTDIR)$(LIBDIR)/libvinesync.so.$(VERSION)
	install -m 644 $(FFI_RELEASE_LIBDIR)/libvinesync.a $(DESTDIR)$(LIBDIR)/libvinesync.a
	strip --strip-debug $(DESTDIR)$(LIBDIR)/libvinesync.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvinesync.a
	ln -sf libvinesync.so.$(VERSION) $(DESTDIR)$(LIBDIR)/libvinesync.so.$(SO_MAJOR)
	ln -sf libvinesync.so.$(SO_MAJOR) $(DESTDIR)$(LIBDIR)/libvinesync.so
	sed -e 's|@LIBDIR@|$(LIBDIR)|' -e 's|@INCLUDEDIR@|$(INCLUDEDIR)|' -e 's|@VERSION@|$(VERSION)|' \
	  ffi/vinesync.pc.in > $(DESTDIR)$(LIBDIR)/pkgconfig/vinesync.pc
	sed -e 's|@INCLUDEDIR_FROM_LIBDIR@|'"$$(realpath -m --relative-to=$(LIBDIR) $(INCLUDEDIR))"'|' \
	  -e 's|@VERSION@|$(VERSION)|' -e 's|@SO_MAJOR@|$(SO_MAJOR)|' \
	  ffi/cmake/vinesync-config.cmake.in > $(DESTDIR)$(LIBDIR)/cmake/vinesync/vinesync-config.cmake
	sed -e 's|@VERSION@|$(VERSION)|' ffi/cmake/vinesync-config-version.cmake.in \
	  > $(DESTDIR)$(LIBDIR)/cmake/vinesync/vinesync-config-version.cmake

# The tests link the test build (it has the fault functions) with the
# headers from include/.
TEST_LIB_FLAGS := -Iinclude $(FFI_LIBDIR)/libvinesync.a $(C_LIBS)

$(C_BUILD)/%: tests/c/%.c build-c
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) $< $(TEST_LIB_FLAGS) -o $@

$(C_BUILD)/%_asan: tests/c/%.c build-c
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer $< $(TEST_LIB_FLAGS) -o $@

$(C_BUILD)/exit_global: tests/c/exit_global.cpp build-c
	@mkdir -p $(C_BUILD)
	$(CXX) -std=c++17 -Wall -Wextra -Werror -g -pthread $< $(TEST_LIB_FLAGS) -o $@

$(C_BUILD)/exit_global_asan: tests/c/exit_global.cpp build-c
	@mkdir -p $(C_BUILD)
	$(CXX) -std=c++17 -Wall -Wextra -Werror -g -pthread -fsanitize=address,undefined -fno-omit-frame-pointer \
	  $< $(TEST_LIB_FLAGS) -o $@

C_TESTS      := $(C_BUILD)/test_vinesync $(C_BUILD)/test_lifecycle
C_TESTS_ASAN := $(C_BUILD)/test_vinesync_asan $(C_BUILD)/test_lifecycle_asan
ASAN_ENV := ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1

# A test's run on memory and its run on a throw-away etcd, side by side (the
# etcd run mostly waits on its etcd): $(call on_memory_and_etcd,COMMAND).
# Environment for both goes before the call.
on_memory_and_etcd = scripts/run-together.sh memory '$(1)' etcd '$(ETCD_RUN) -- $(1)'

test-c-plain: $(C_TESTS) etcd-harness ## C tests on memory and on a real etcd
	$(foreach t,$(C_TESTS),$(call on_memory_and_etcd,$(t)) &&) true

# The fork test (h5) runs under clang's ASan, not GCC 12's: GCC 12's ASan
# allocator is not fork-safe, so a child of a multi-threaded process can
# block forever in malloc on an allocator lock held by a parent's thread at
# fork time (seen: __sanitizer::SizeClassAllocator64::GetFromAllocator in
# the child). clang (Debian's, installed by `make deps`) does not.
LIFECYCLE_UNDER_ASAN := h1,l6,h2,errors,caught
CLANG ?= clang
$(C_BUILD)/test_lifecycle_clang_asan: tests/c/test_lifecycle.c build-c
	@mkdir -p $(C_BUILD)
	$(CLANG) $(C_FLAGS) -fsanitize=address,undefined -fno-omit-frame-pointer $< $(TEST_LIB_FLAGS) -o $@

test-c-asan: $(C_TESTS_ASAN) $(C_BUILD)/test_lifecycle_clang_asan etcd-harness ## C tests under AddressSanitizer + UBSan (memory and etcd)
	$(ASAN_ENV) $(call on_memory_and_etcd,$(C_BUILD)/test_vinesync_asan)
	$(ASAN_ENV) $(call on_memory_and_etcd,$(C_BUILD)/test_lifecycle_asan $(LIFECYCLE_UNDER_ASAN))
	$(ASAN_ENV) $(call on_memory_and_etcd,$(C_BUILD)/test_lifecycle_clang_asan h5)

VALGRIND := valgrind -q --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite --show-leak-kinds=definite
# A child of fork() holds memory of the parent's threads, which do not exist
# in it: leaked by construction, so the fork test's child is not checked
# (it reports its own checks through a pipe; ASan covers it).
VALGRIND_FORK := $(VALGRIND) --child-silent-after-fork=yes
# Every test but the 16-thread L1 runs under valgrind (L1 alone takes over
# two minutes there; it runs plain and under ASan + LeakSanitizer + UBSan,
# on memory and on etcd).
VALGRIND_TESTS := l2,l3,l4,l5,l6,l7,l8,l9,l10,e1,e3,e5,e7,e8,init,untouched,errors,vine
test-c-valgrind: $(C_TESTS) etcd-harness ## C tests under valgrind (memory and etcd)
	$(call on_memory_and_etcd,$(VALGRIND) $(C_BUILD)/test_vinesync $(VALGRIND_TESTS))
	$(call on_memory_and_etcd,$(VALGRIND_FORK) $(C_BUILD)/test_lifecycle)

EXIT_CASES := tests/c/run_exit_cases.sh
test-c-exit: $(C_BUILD)/exit_cases $(C_BUILD)/exit_global $(C_BUILD)/exit_cases_asan $(C_BUILD)/exit_global_asan etcd-harness ## SPEC H4: atexit, C++ globals, return with a blocked thread (plain, ASan, valgrind; memory and etcd)
	$(call on_memory_and_etcd,$(EXIT_CASES) $(C_BUILD)/exit_cases $(C_BUILD)/exit_global)
	$(ASAN_ENV) $(call on_memory_and_etcd,$(EXIT_CASES) $(C_BUILD)/exit_cases_asan $(C_BUILD)/exit_global_asan)
	$(call on_memory_and_etcd,$(EXIT_CASES) $(C_BUILD)/exit_cases $(C_BUILD)/exit_global $(VALGRIND))

# Packaging as a user meets it: install into a staging dir with DESTDIR,
# check the SONAME and that the fault functions are absent, then build and
# run the seed's lock example with CMake (shared and static) and pkg-config.
STAGE := $(C_BUILD)/stage
test-c-install: ## make install DESTDIR=... PREFIX=/usr; readelf SONAME; CMake + pkg-config build the lock example
	rm -rf $(STAGE)
	$(MAKE) --no-print-directory install DESTDIR=$(STAGE) PREFIX=/usr
	tests/c/check_install.sh $(STAGE) /usr $(SO_MAJOR) $(VERSION)

test-c: check-header test-c-plain test-c-asan test-c-valgrind test-c-exit test-c-install ## every C test

TEST_TARGETS += test-c

# The demos use an installed copy of the libraries (release build), as a
# user would.
PKG := PKG_CONFIG_PATH=$(C_PREFIX)/lib/pkgconfig pkg-config
$(C_BUILD)/installed: build-c-release
	$(MAKE) --no-print-directory install-lib PREFIX=$(C_PREFIX)
	@touch $@

C_DEMOS := $(C_BUILD)/demo_lock $(C_BUILD)/demo_election $(C_BUILD)/demo_lock_raii
$(C_BUILD)/demo_%: examples/c/%.c $(C_BUILD)/installed
	$(CC) $(C_FLAGS) $< $$($(PKG) --cflags --libs vinesync) -Wl,-rpath,$(C_PREFIX)/lib -o $@
$(C_BUILD)/demo_lock_raii: examples/cpp/lock_raii.cpp $(C_BUILD)/installed
	$(CXX) -std=c++17 -Wall -Wextra -Werror -g -pthread $< $$($(PKG) --cflags --libs vinesync) -Wl,-rpath,$(C_PREFIX)/lib -o $@

demo-c: $(C_DEMOS) ## the seed's examples in C (and the lock one in C++ with RAII)
	@echo "== C: the seed's lock example =="
	$(C_BUILD)/demo_lock
	@echo "== C: the seed's election example =="
	$(C_BUILD)/demo_election
	@echo "== C++: the lock example with RAII guards =="
	$(C_BUILD)/demo_lock_raii

DEMO_TARGETS += demo-c

$(C_BUILD)/test_secured: tests/c/test_secured.c build-c
	@mkdir -p $(C_BUILD)
	$(CC) $(C_FLAGS) $< $(TEST_LIB_FLAGS) -o $@
