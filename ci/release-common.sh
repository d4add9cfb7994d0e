# ci/release-common.sh: what ci/package.sh and ci/release-bundle.sh share,
# sourced by both with $self (the script's name, for messages) and $needs
# (files the build folder must hold, relative to it) set. Parses
# [--no-build] [--build-dir DIR] [--out DIR] into $src, $build and $out
# (an absolute, existing folder), builds what both package unless
# --no-build, and checks the build folder holds $needs.
src="$(cd "$(dirname "$0")/.." && pwd)"
build="$src/build/default"
out=""
do_build=1
while [ $# -gt 0 ]; do
  case "$1" in
    --no-build) do_build=0 ;;
    --build-dir) build="$(cd "$2" && pwd)"; shift ;;
    --out) out="$2"; shift ;;
    *) echo "usage: ci/$self [--no-build] [--build-dir DIR] [--out DIR]" >&2; exit 2 ;;
  esac
  shift
done
[ -n "$out" ] || out="$build"
if [ "$do_build" = 1 ]; then
  "$src/ci/install-deps.sh"
  (cd "$src" && cmake --preset default >/dev/null &&
    cmake --build --preset default --target amc amc_static amc_plugin_host amc_manpage)
fi
for f in $needs; do
  [ -e "$build/$f" ] || { echo "ci/$self: $build/$f is missing: build first (or drop --no-build)" >&2; exit 1; }
done
mkdir -p "$out"
out="$(cd "$out" && pwd)"
