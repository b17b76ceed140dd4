#!/usr/bin/env bash
# Builds etcd and etcdctl of one version from their Go modules:
#   scripts/build-etcd.sh v3.6.16 OUT_DIR   -> OUT_DIR/etcd, OUT_DIR/etcdctl
# `go install module@version` refuses etcd's modules (their go.mod files have
# replace directives), so a throw-away module requires the server and
# etcdctl modules at that version and builds their main packages.
# Nothing is rebuilt when OUT_DIR already holds both binaries of the version.
set -euo pipefail
version=${1:?usage: build-etcd.sh vX.Y.Z OUT_DIR}
out=${2:?usage: build-etcd.sh vX.Y.Z OUT_DIR}
case "$version" in v3.*) ;; *) echo "build-etcd: not an etcd v3 version: $version" >&2; exit 2 ;; esac
if [ -x "$out/etcd" ] && [ -x "$out/etcdctl" ] && [ "$(cat "$out/VERSION" 2>/dev/null)" = "$version" ]; then
  exit 0
fi
command -v go >/dev/null || { echo "build-etcd: the Go toolchain is needed to build etcd $version" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/vinesync-build-etcd.XXXXXX")
trap 'rm -rf "$work"' EXIT
mkdir -p "$out"
echo "build-etcd: building etcd $version (about 2 minutes, once)" >&2
cd "$work"
cat > go.mod <<MOD
module vinesync.local/etcd-build

go 1.22
MOD
cat > tools.go <<SRC
//go:build tools

package tools

import (
	_ "go.etcd.io/etcd/etcdctl/v3"
	_ "go.etcd.io/etcd/server/v3"
)
SRC
export GOFLAGS=-mod=mod
go get "go.etcd.io/etcd/server/v3@$version" "go.etcd.io/etcd/etcdctl/v3@$version" >/dev/null 2>&1 ||
  go get "go.etcd.io/etcd/server/v3@$version" "go.etcd.io/etcd/etcdctl/v3@$version"
go build -trimpath -o "$out/etcd.tmp" go.etcd.io/etcd/server/v3
go build -trimpath -o "$out/etcdctl.tmp" go.etcd.io/etcd/etcdctl/v3
mv "$out/etcd.tmp" "$out/etcd"
mv "$out/etcdctl.tmp" "$out/etcdctl"
echo "$version" > "$out/VERSION"
"$out/etcd" --version | head -1 >&2
