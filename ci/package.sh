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
self=package.sh
needs="tools/amc/amc tools/amc/amc_static plugin/amc-plugin-host amc.1 CPackConfig.cmake"
. "$(dirname "$0")/release-common.sh"
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
