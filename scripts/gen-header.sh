#!/usr/bin/env bash
# Writes the C header for the ffi crate to $1 with the pinned cbindgen
# ($CBINDGEN), filling in the version macros from the crate version.
set -euo pipefail
out=${1:?usage: gen-header.sh OUT}
cbindgen=${CBINDGEN:?set CBINDGEN to the pinned cbindgen binary}
root=$(cd "$(dirname "$0")/.." && pwd)
version=$(sed -n 's/^version = "\(.*\)"/\1/p' "$root/Cargo.toml" | head -1)
IFS=. read -r major minor patch <<<"$version"
tmp=$(mktemp)
trap 'rm -f "$tmp"' EXIT
"$cbindgen" --quiet --config "$root/ffi/cbindgen.toml" --crate vinesync-ffi --output "$tmp" "$root/ffi"
sed -e "s/@MAJOR@/$major/" -e "s/@MINOR@/$minor/" -e "s/@PATCH@/$patch/" -e "s/@VERSION@/$version/" "$tmp" > "$out"
