# Go: the cgo package in bindings/go (vine's lib/sync API) over libvinesync,
# its tests (race detector, cgocheck, GOGC=1; memory and etcd), the seed's
# examples with only their imports changed, and the install test (go get
# from file:// GOPROXYs, as a user would).
#
# The module links the library by build tag (bindings/go/sync/link_*.go):
# no tag = pkg-config after `make install`; vinesync_bundled = the release
# static library in the release zip (go-release-zip); vinesync_test = the
# test build that go-lib copies to bindings/go/lib (with the fault
# functions of faults.go), used by everything in this repository.

GO ?= go
GO_LIB := bindings/go/lib/libvinesync.a
GO_TAGS := -tags vinesync_test
GO_BUILD := $(CURDIR)/build/go
GO_MODULE := github.com/vinesync/vinesync/bindings/go
GO_VERSION := v$(VERSION)
GO_RELEASE_LIB := $(GO_BUILD)/release-lib/libvinesync.a

# Go's build cache does not hash libvinesync.a (linked through cgo's
# LDFLAGS), so a rebuilt library alone would leave programs and test
# binaries linked to the old one; its checksum in -ldflags makes every
# change relink them (-X of a variable no program has is ignored).
GO_LIB_LDFLAGS = -ldflags "-X main.libvinesyncSum=$$(sha256sum $(CURDIR)/$(GO_LIB) | cut -c1-16)"

.PHONY: go-lib check-go-header go-release-zip test-go test-go-install demo-go check-seed-diff

go-lib: build-c ## copy libvinesync.a (test build) where the Go package links it from
	@mkdir -p bindings/go/lib
	cp $(FFI_LIBDIR)/libvinesync.a $(GO_LIB)

check-go-header: ## the module's copy of the headers (bindings/go/sync/include) matches include/
	@for h in vinesync.h vinesync_test.h; do \
	  cmp include/$$h bindings/go/sync/include/$$h || \
	    { echo "bindings/go/sync/include/$$h differs from include/$$h: copy it"; exit 1; }; \
	done

check-seed-diff: ## the Go examples differ from the seed only in their imports
	scripts/check-seed-diff.sh

# The module as a release publishes it (the wasmtime-go / go-duckdb way):
# a GOPROXY layout in build/go/release-proxy whose zip also carries the
# stripped release static library for linux/amd64 (lib/linux_amd64, a build
# artefact: never committed).
go-release-zip: build-c-release check-go-header ## module zip with the stripped release static library (build/go/release-proxy)
	@mkdir -p $(dir $(GO_RELEASE_LIB))
	cp $(FFI_RELEASE_LIBDIR)/libvinesync.a $(GO_RELEASE_LIB)
	strip --strip-debug $(GO_RELEASE_LIB)
	rm -rf $(GO_BUILD)/release-proxy
	tests/go/make_proxy.py --module-dir bindings/go --module $(GO_MODULE) --version $(GO_VERSION) \
	  --extra lib/linux_amd64/libvinesync.a=$(GO_RELEASE_LIB) --out $(GO_BUILD)/release-proxy
	@ls -l $(GO_BUILD)/release-proxy/$(GO_MODULE)/@v/

test-go-install: go-release-zip etcd-harness ## go get + build + run both seed examples in a fresh module: plain module + pkg-config, and the release zip
	rm -rf $(GO_BUILD)/prefix $(GO_BUILD)/plain-proxy
	$(MAKE) --no-print-directory install PREFIX=$(GO_BUILD)/prefix
	tests/go/make_proxy.py --module-dir bindings/go --module $(GO_MODULE) --version $(GO_VERSION) \
	  --out $(GO_BUILD)/plain-proxy
	$(ETCD_RUN) -- tests/go/install_test.sh $(GO_BUILD) $(GO_MODULE) $(GO_VERSION)

test-go: go-lib etcd-harness check-seed-diff check-go-header ## go vet + go test -race (memory, etcd, cgocheck=1, GOGC=1)
	cd bindings/go && $(GO) vet $(GO_TAGS) ./...
	cd bindings/go && CGO_ENABLED=1 $(GO) test $(GO_TAGS) $(GO_LIB_LDFLAGS) -race -count=1 ./...
	cd bindings/go && CGO_ENABLED=1 GODEBUG=cgocheck=1 GOGC=1 $(GO) test $(GO_TAGS) $(GO_LIB_LDFLAGS) -race -count=1 ./...
	cd bindings/go && CGO_ENABLED=1 GODEBUG=cgocheck=1 GOGC=1 $(ETCD_RUN) -- $(GO) test $(GO_TAGS) $(GO_LIB_LDFLAGS) -race -count=1 ./...
	cd examples/go && $(GO) vet $(GO_TAGS) ./...

demo-go: go-lib ## the seed's examples in Go (memory; etcd when VINESYNC_NODES is set)
	@echo "== Go: the seed's lock example =="
	cd examples/go && $(GO) run $(GO_TAGS) $(GO_LIB_LDFLAGS) ./$(if $(VINESYNC_NODES),,memory/)lock
	@echo "== Go: the seed's election example =="
	cd examples/go && $(GO) run $(GO_TAGS) $(GO_LIB_LDFLAGS) ./$(if $(VINESYNC_NODES),,memory/)election

TEST_TARGETS += test-go test-go-install
DEMO_TARGETS += demo-go
