# Lock inspection (vs_inspect_lock) from C: against the installed library, on
# memory and on a real etcd, and under valgrind. (Go's and Python's tests
# of it run in test-go and test-python.)

.PHONY: test-c-inspect

$(C_BUILD)/test_inspect: tests/c/test_inspect.c $(C_BUILD)/installed
	$(CC) $(C_FLAGS) tests/c/test_inspect.c $$($(PKG) --cflags --libs vinesync) -Wl,-rpath,$(C_PREFIX)/lib -o $@

test-c-inspect: $(C_BUILD)/test_inspect etcd-harness ## lock inspection from C (memory, etcd, valgrind)
	$(C_BUILD)/test_inspect
	$(ETCD_RUN) -- $(C_BUILD)/test_inspect
	$(VALGRIND) $(C_BUILD)/test_inspect

TEST_TARGETS += test-c-inspect
