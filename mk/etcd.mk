# etcd versions: the conformance suite (single node and 3 members) and the
# etcdctl interop tests on every pinned etcd version of
# scripts/etcd-versions.txt, and one single-node run of the newest with
# etcd's default settings (no tuned heartbeat or election timeout; default
# minimum lease TTL and gRPC keepalive policy). 3.4 (Debian's package) runs
# in test-rust; the others are built once from their Go modules and cached
# under the cargo target directory.

ETCD_BUILDS := $(TARGET_DIR)/etcd
# "3.5=v3.5.35" lines -> v3.5.35 ...
ETCD_BUILT_VERSIONS := $(shell sed -n 's/^[0-9.]*=\(v[0-9.]*\)$$/\1/p' scripts/etcd-versions.txt)
ETCD_NEWEST := $(lastword $(ETCD_BUILT_VERSIONS))
ETCD_SUITES := --test conformance_etcd --test conformance_etcd_cluster --test etcd_interop --test etcd_full

.PHONY: etcd-versions test-etcd-versions

etcd-versions: ## build the pinned etcd 3.5/3.6 binaries (cached under the cargo target dir)
	@for v in $(ETCD_BUILT_VERSIONS); do scripts/build-etcd.sh $$v $(ETCD_BUILDS)/$$v; done

# The versions (and the default-settings run) at once, after one build:
# each starts its own etcd and mostly waits on it (well under a core each).
ETCD_VERSION_RUNS = $(foreach v,$(ETCD_BUILT_VERSIONS),$(v) \
  'VINESYNC_ETCD_DIR=$(ETCD_BUILDS)/$(v) $(CARGO) test -q -p vinesync $(ETCD_SUITES)') \
  defaults 'VINESYNC_ETCD_DIR=$(ETCD_BUILDS)/$(ETCD_NEWEST) VINESYNC_ETCD_DEFAULTS=1 \
  $(CARGO) test -q -p vinesync --test conformance_etcd --test etcd_interop --test etcd_defaults'

test-etcd-versions: deps etcd-harness etcd-versions ## conformance, interop and the full-etcd test on every pinned etcd, and a default-settings run
	$(CARGO) test -q -p vinesync $(ETCD_SUITES) --test etcd_defaults --no-run
	@echo "== side by side: each of etcd $(ETCD_BUILT_VERSIONS) (conformance on 1 node and 3 members," \
	  "etcdctl interop, a full etcd) and [defaults] ($(ETCD_NEWEST) with its default settings) =="
	scripts/run-together.sh $(ETCD_VERSION_RUNS)

TEST_TARGETS += test-etcd-versions
