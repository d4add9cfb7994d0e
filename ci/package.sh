#!/usr/bin/env bash
# Builds the Debian package amc_<version>_<arch>.deb (CPack, cmake/install.cmake)
# from this checkout in one command:
#   ci/package.sh                      configure and build the default preset's
#                                      amc, amc_static and man page, then package
#   ci/package.sh --no-build           package what the build folder holds
#                                      (packaging/deb_test.sh uses this)
#   --build-dir DIR   the build folder (default build/default)
#   --out DIR         where the .deb goes (default: the build folder)
# Prints the path of the package on its last line. Its dependencies are
# computed by dpkg-shlibdeps (dpkg-dev) from the dynamic amc.
set -euo pipefail
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$src/build/default"
out=""
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --build-dir) build="$(cd "$2" && pwd)"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: ci/package.sh [--no-build] [--build-dir DIR] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || out="$build"
if [ "$do_build" = 1 ]; then
  "$src/ci/install-deps.sh"
  (cd "$src" && cmake --preset default >/dev/null &&
    cmake --build --preset default --target amc amc_static amc_plugin_host amc_manpage)
fi
for f in tools/amc/amc tools/amc/amc_static plugin/amc-plugin-host amc.1 CPackConfig.cmake; do
  [ -e "$build/$f" ] || { echo "ci/package.sh: $build/$f is missing: build first (or drop --no-build)" >&2; exit 1; }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
# CPack's staging folder goes to a scratch folder of our own, removed after.
work="$(mktemp -d "$out/.cpack.XXXXXX")"
trap 'rm -rf "$work"' EXIT
(cd "$work" && cpack -G DEB --config "$build/CPackConfig.cmake" -B "$work" >cpack.log 2>&1) || {
  cat "$work/cpack.log" >&2
  echo "ci/package.sh: cpack failed" >&2
  exit 1
}
debs=("$work"/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || { cat "$work/cpack.log" >&2; echo "ci/package.sh: expected one .deb, got: ${debs[*]}" >&2; exit 1; }
mv "${debs[0]}" "$out/"
echo "$out/$(basename "${debs[0]}")"
