# The vinesync command (cli/): run a program only while holding a lock or
# while primary; list locks, candidates and election events. Its tests
# start their own etcd (the testkit) and drive the real binary.

.PHONY: build-cli build-cli-release test-cli install-cli

build-cli: ## build the vinesync command
	$(CARGO) build -q -p vinesync-cli

build-cli-release: deps-build ## build the release vinesync command (what make install installs)
	$(CARGO) build -q --release -p vinesync-cli

test-cli: deps ## the vinesync command: unit tests, and end-to-end tests against a real etcd
	$(CARGO) test -q -p vinesync-cli

TEST_TARGETS += test-cli
# test-cli runs these tests; test-rust's `cargo test --workspace` need not
# run them again.
test-rust: CARGO_EXCLUDE += --exclude vinesync-cli

# `make install` installs the command too: the release build, stripped,
# like the libraries. Honours DESTDIR and BINDIR like the libraries'
# install (mk/c.mk).
BINDIR ?= $(PREFIX)/bin
install: install-cli
install-cli: build-cli-release ## install the release vinesync command under BINDIR (PREFIX/bin)
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 -s $(TARGET_DIR)/release/vinesync $(DESTDIR)$(BINDIR)/
