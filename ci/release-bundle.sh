#!/usr/bin/env bash
# Builds the release bundle amc-<version>-<arch>-linux.tar.gz in one command:
# one folder amc-<version>-<arch>-linux/ holding
#   bin/amc                        the static amc (runs on any Linux of that arch)
#   libexec/amc/amc-plugin-host    the dynamic program bin/amc runs a plug-in's
#                                  child in (needs glibc and libstdc++ only), so
#                                  plug-ins with a runtime of their own (Go) load
#   include/amc/amc_plugin.h       the plug-in interface
#   share/pkgconfig/amc-plugin.pc  pkg-config (relocatable)
#   share/cmake/amc/               find_package(amc) (relocatable)
#   share/amc/                     the conformance cases and the corpus, found
#                                  by bin/amc from its own path (no AMC_DATA_DIR)
#   share/man/man1/amc.1, share/doc/amc/, README.md (and LICENSE if any)
# Usage:
#   ci/release-bundle.sh               configure and build the default preset's
#                                      amc_static and man page, then bundle
#   ci/release-bundle.sh --no-build    bundle what the build folder holds
#   --build-dir DIR   the build folder (default build/default)
#   --out DIR         where the tarball goes (default: the build folder)
# Prints the path of the tarball on its last line.
set -euo pipefail
self=release-bundle.sh
needs="tools/amc/amc tools/amc/amc_static plugin/amc-plugin-host amc.1 cmake_install.cmake"
. "$(dirname "$0")/release-common.sh"
version="$("$build/tools/amc/amc_static" --version | sed -n '1s/^amc //p')"
[ -n "$version" ] || { echo "ci/release-bundle.sh: no version from amc_static --version" >&2; exit 1; }
name="amc-$version-$(uname -m)-linux"
work="$(mktemp -d "$out/.bundle.XXXXXX")"
trap 'rm -rf "$work"' EXIT
root="$work/$name"
cmake --install "$build" --prefix "$root" --strip >"$work/install.log" 2>&1 || {
  cat "$work/install.log" >&2; exit 1; }
# The static twin is the bundle's amc: no shared library needed.
mv "$root/bin/amc_static" "$root/bin/amc"
cp "$src/README.md" "$root/README.md"
for license in LICENSE LICENSE.md LICENSE.txt COPYING; do
  [ -f "$src/$license" ] && cp "$src/$license" "$root/"
done
tarball="$out/$name.tar.gz"
tar -C "$work" --owner=0 --group=0 --numeric-owner --sort=name \
  -czf "$tarball.tmp" "$name"
mv "$tarball.tmp" "$tarball"
echo "$tarball"
