# The vine key layout (issue 20): mixed fleets of vine processes and
# vinesync processes on one real etcd. tests/vine-model is a model of vine
# 1.5.10's etcd plugin (etcd's concurrency package, its keys, one session
# per Lock, the primary key), the "old process"; the vinesync processes run
# with VINESYNC_LAYOUT=vine: the Go worker (bindings/go/cmd/vinesync-vine-
# worker), the vinesync command (Rust) and the seed's two Go examples with
# only their imports changed. On etcd 3.4 (Debian's) and on the newest
# pinned etcd. The conformance suite under the vine layout
# (core/tests/conformance_vine_layout.rs) runs in test-rust.

VINE_BUILD := $(CURDIR)/build/vine
VINE_PROGRAMS := VINE_MODEL=$(VINE_BUILD)/vine-model \
  VINESYNC_GO_WORKER=$(VINE_BUILD)/vinesync-vine-worker \
  VINESYNC_CLI=$(TARGET_DIR)/debug/vinesync \
  SEED_LOCK=$(VINE_BUILD)/seed-lock SEED_ELECTION=$(VINE_BUILD)/seed-election

.PHONY: vine-programs test-vine-layout

vine-programs: go-lib build-cli etcd-harness ## build the vine model, the Go vinesync worker and the seed's Go examples (build/vine)
	@mkdir -p $(VINE_BUILD)
	cd tests/vine-model && $(GO) vet . && $(GO) build -o $(VINE_BUILD)/vine-model .
	cd bindings/go && $(GO) build $(GO_TAGS) $(GO_LIB_LDFLAGS) -o $(VINE_BUILD)/vinesync-vine-worker ./cmd/vinesync-vine-worker
	cd examples/go && $(GO) build $(GO_TAGS) $(GO_LIB_LDFLAGS) -o $(VINE_BUILD)/seed-lock ./lock && \
	  $(GO) build $(GO_TAGS) $(GO_LIB_LDFLAGS) -o $(VINE_BUILD)/seed-election ./election

test-vine-layout: deps vine-programs etcd-versions ## vine model + vinesync (Go, Rust, seed examples) under the vine layout on etcd 3.4 and the newest pinned
	@echo "== vine layout: mixed fleet on etcd 3.4 (Debian) =="
	cd tests/vine-model && $(VINE_PROGRAMS) $(ETCD_RUN) -- $(GO) test -count=1 -v ./... 2>&1 | \
	  grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|fleet_|seed_|^        &' 
	@echo "== vine layout: mixed fleet on etcd $(ETCD_NEWEST) =="
	cd tests/vine-model && VINESYNC_ETCD_DIR=$(ETCD_BUILDS)/$(ETCD_NEWEST) $(VINE_PROGRAMS) \
	  $(ETCD_RUN) -- $(GO) test -count=1 -v ./... 2>&1 | \
	  grep -E '^(=== RUN|--- |PASS|FAIL|ok|panic)|fleet_|seed_|^        &'

TEST_TARGETS += test-vine-layout
