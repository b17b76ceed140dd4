#!/usr/bin/env bash
# Checks a staged `make install DESTDIR=STAGE PREFIX=PREFIX`: SONAME and
# links, release sizes, no fault functions in the library or header, and a
# CMake project (find_package(vinesync)) plus a pkg-config build of the
# seed's lock example, which then run.
# Usage: check_install.sh STAGE PREFIX SO_MAJOR VERSION
set -euo pipefail
stage=$(cd "$1" && pwd) prefix=$2 major=$3 version=$4
root=$(cd "$(dirname "$0")/../.." && pwd)
lib=$stage$prefix/lib
fail() { echo "check_install: $*" >&2; exit 1; }

soname=$(readelf -d "$lib/libvinesync.so.$version" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p')
echo "SONAME: $soname"
[[ $soname == "libvinesync.so.$major" ]] || fail "SONAME is '$soname', expected libvinesync.so.$major"
[[ $(readlink "$lib/libvinesync.so.$major") == "libvinesync.so.$version" ]] || fail "libvinesync.so.$major link"
[[ $(readlink "$lib/libvinesync.so") == "libvinesync.so.$major" ]] || fail "libvinesync.so link"
ls -l "$lib"/libvinesync.*
if readelf -S "$lib/libvinesync.so.$version" | grep -q '\.debug_info'; then fail "the .so has debug info"; fi
if nm -D "$lib/libvinesync.so.$version" | grep -q vs_sync_fault; then fail "the .so exports fault functions"; fi
others=$(nm -D --defined-only "$lib/libvinesync.so.$version" | awk '$3 !~ /^vs_/ {print $3}')
[[ -z $others ]] || fail "the .so exports symbols other than vs_*: $others"
if nm "$lib/libvinesync.a" 2>/dev/null | grep -q ' T vs_sync_fault'; then fail "the .a has fault functions"; fi
if grep -q vs_sync_fault "$stage$prefix/include/vinesync.h"; then fail "the header declares fault functions"; fi
[[ ! -e $stage$prefix/include/vinesync_test.h ]] || fail "the test header was installed"
# Nothing outside the staging dir: the command went there too.
[[ -x $stage$prefix/bin/vinesync ]] || fail "the vinesync command is not in the staging dir"
"$stage$prefix/bin/vinesync" --version || fail "the installed vinesync command does not run"

build=$(mktemp -d)
trap 'rm -rf "$build"' EXIT
cmake -S "$root/tests/c/cmake_project" -B "$build" -DCMAKE_PREFIX_PATH="$stage$prefix" \
  -DLOCK_EXAMPLE="$root/examples/c/lock.c" >"$build/configure.log" || { cat "$build/configure.log"; fail "cmake configure"; }
cmake --build "$build" >"$build/build.log" || { cat "$build/build.log"; fail "cmake build"; }
echo "== CMake, vinesync::vinesync (shared) =="
LD_LIBRARY_PATH=$lib "$build/lock_shared"
echo "== CMake, vinesync::vinesync_static =="
"$build/lock_static"
[[ $(readelf -d "$build/lock_shared" | grep -c "NEEDED.*libvinesync.so.$major") == 1 ]] || fail "lock_shared does not need libvinesync.so.$major"

# pkg-config: the .pc names the final (unstaged) paths; point it at the stage.
pc=$lib/pkgconfig/vinesync.pc
grep -q "^libdir=$prefix/lib$" "$pc" || fail "vinesync.pc libdir"
cc -std=c11 "$root/examples/c/lock.c" \
  $(PKG_CONFIG_PATH=$lib/pkgconfig PKG_CONFIG_SYSROOT_DIR=$stage pkg-config --cflags --libs vinesync) \
  -o "$build/lock_pc"
echo "== pkg-config =="
LD_LIBRARY_PATH=$lib "$build/lock_pc"
echo "install checks passed"
