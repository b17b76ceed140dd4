#!/usr/bin/env bash
# The Go install test: what `go get` does, in a fresh module with no
# replace directive, for both ways the module is published:
#   plain    the module as git has it, from a file:// GOPROXY; the library
#            found through pkg-config after `make install` into a temp prefix
#   release  the release zip (make go-release-zip), whose stripped static
#            library is linked with -tags vinesync_bundled; no pkg-config and
#            no Rust toolchain on PATH
# Each mode builds both seed examples (examples/go/{lock,election}) and runs
# them on the etcd in VINESYNC_NODES (run it under `vinesync-etcd run`).
#
# Usage: install_test.sh BUILD_DIR MODULE VERSION
#   BUILD_DIR has plain-proxy/, release-proxy/ and prefix/ (absolute path).
set -euo pipefail
build=$1 module=$2 version=$3
repo=$(cd "$(dirname "$0")/../.." && pwd)
: "${VINESYNC_NODES:?run it under vinesync-etcd run}"

# The election example also needs github.com/google/uuid: the ordinary go
# client puts it in the module cache, which each fresh module cache below
# reads as a second file:// proxy.
(cd "$repo/examples/go" && go mod download github.com/google/uuid)
cache_proxy="file://$(go env GOMODCACHE)/cache/download"

fail() { echo "install test ($mode): $*" >&2; exit 1; }

run_mode() {
	mode=$1
	local work
	work=$(mktemp -d "$build/install-$mode.XXXXXX")
	mkdir -p "$work/app"
	for example in lock election; do
		mkdir -p "$work/app/$example"
		cp "$repo/examples/go/$example/main.go" "$work/app/$example/"
	done
	cd "$work/app"
	export GOMODCACHE="$work/modcache" GOFLAGS="-mod=mod -modcacherw" GOSUMDB=off \
		GOPROXY="file://$build/$mode-proxy,$cache_proxy" GOTOOLCHAIN=local
	go mod init example.com/seed >/dev/null 2>&1
	go get "$module@$version" github.com/google/uuid@v1.6.0
	if grep -q '^replace' go.mod; then fail "go.mod has a replace directive"; fi
	grep -q "$module $version" go.mod || fail "go.mod does not require $module $version"
	for example in lock election; do
		case $mode in
		plain)
			PKG_CONFIG_PATH="$build/prefix/lib/pkgconfig" go build -o "$work/$example" "./$example"
			LD_LIBRARY_PATH="$build/prefix/lib" timeout 60 "$work/$example" > "$work/$example.out"
			;;
		release)
			# no Rust toolchain, no pkg-config: only go and the C toolchain
			env PATH="$(dirname "$(command -v go)"):/usr/bin:/bin" PKG_CONFIG=/bin/false \
				bash -c '! command -v cargo >/dev/null && go build -tags vinesync_bundled -o "$0" "./$1"' \
				"$work/$example" "$example" || fail "build of $example without cargo and pkg-config"
			if ldd "$work/$example" | grep -q vinesync; then fail "$example links a shared libvinesync"; fi
			timeout 60 "$work/$example" > "$work/$example.out"
			;;
		esac
	done
	grep -q "lock1 released" "$work/lock.out" || fail "lock example output: $(cat "$work/lock.out")"
	grep -q "^Locked" "$work/lock.out" || fail "lock example output: $(cat "$work/lock.out")"
	grep -q "primary" "$work/election.out" || fail "election example output: $(cat "$work/election.out")"
	echo "install test ($mode): go get $module@$version, built and ran the lock and election examples"
	cd "$repo"
	rm -rf "$work"
}

(run_mode plain)
(run_mode release)
