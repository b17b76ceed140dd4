# Go: the cgo package in bindings/go (vine's lib/sync API) over the static
# libvinesync, its tests (race detector, cgocheck, GOGC=1; memory and etcd)
# and the seed's examples with only their imports changed.

GO ?= go
GO_LIB := bindings/go/lib/libvinesync.a

.PHONY: go-lib test-go demo-go check-seed-diff

# The test build (build-c): the Go package's tests use its vs_sync_fault_*
# (faults.go, build tag vinesync_test).
go-lib: build-c ## copy libvinesync.a (test build) where the Go package links it from
	@mkdir -p bindings/go/lib
	cp $(FFI_LIBDIR)/libvinesync.a $(GO_LIB)

check-seed-diff: ## the Go examples differ from the seed only in their imports
	scripts/check-seed-diff.sh

test-go: go-lib etcd-harness check-seed-diff ## go vet + go test -race (memory, etcd, cgocheck=1, GOGC=1)
	cd bindings/go && $(GO) vet -tags vinesync_test ./...
	cd bindings/go && CGO_ENABLED=1 $(GO) test -tags vinesync_test -race -count=1 ./...
	cd bindings/go && CGO_ENABLED=1 GODEBUG=cgocheck=1 GOGC=1 $(GO) test -tags vinesync_test -race -count=1 ./...
	cd bindings/go && CGO_ENABLED=1 GODEBUG=cgocheck=1 GOGC=1 $(ETCD_RUN) -- $(GO) test -tags vinesync_test -race -count=1 ./...
	cd examples/go && $(GO) vet ./...

demo-go: go-lib ## the seed's examples in Go (memory; etcd when VINESYNC_NODES is set)
	@echo "== Go: the seed's lock example =="
	cd examples/go && $(GO) run ./$(if $(VINESYNC_NODES),,memory/)lock
	@echo "== Go: the seed's election example =="
	cd examples/go && $(GO) run ./$(if $(VINESYNC_NODES),,memory/)election

TEST_TARGETS += test-go
DEMO_TARGETS += demo-go
