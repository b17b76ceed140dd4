#!/usr/bin/env bash
# Makes sure etcd, etcdctl and protoc are installed (Debian packages
# etcd-server, etcd-client, protobuf-compiler), installing them with apt-get
# when we are root; otherwise says exactly what to install. Idempotent.
#   --build-only: only what building needs (protoc for etcd-client's build
#   script), as `make demo` on the memory store needs nothing else.
set -euo pipefail

missing=()
if [ "${1:-}" != "--build-only" ]; then
  command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
  command -v etcdctl >/dev/null 2>&1 || missing+=(etcd-client)
fi
command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
[ ${#missing[@]} -eq 0 ] && exit 0

if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-etcd: installing ${missing[*]} with apt-get" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq "${missing[@]}" >/dev/null
  if command -v etcd >/dev/null 2>&1; then etcd --version | head -1 >&2; fi
  exit 0
fi

echo "ensure-etcd: missing ${missing[*]}." >&2
echo "  Install them, e.g. on Debian/Ubuntu: sudo apt-get install ${missing[*]}" >&2
echo "  (etcd 3.4 or newer, etcdctl with API v3, protoc for etcd-client's build)" >&2
exit 1
