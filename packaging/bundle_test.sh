#!/usr/bin/env bash
# packaging/bundle_test.sh SRC BUILD [PLUGIN...]: the release bundle end to end:
#   - ci/release-bundle.sh --no-build makes amc-<version>-<arch>-linux.tar.gz;
#   - it unpacks into an empty folder as one folder of that name, holding a
#     static bin/amc (no program interpreter: runs without shared
#     libraries), its dynamic libexec/amc/amc-plugin-host (needing only
#     libc, libm, libstdc++ and libgcc_s), the header, pkg-config and CMake files, the cases, the
#     corpus, the man page, the docs and README.md;
#   - from another empty folder, HOME elsewhere, AMC_DATA_DIR unset, its
#     amc prints the version, replays the bundle's cases with no path (and
#     only them), and `amc conform --backends model,impl` with no path
#     scores every rule from the bundle's share/amc with none failing;
#   - each PLUGIN given (the Rust and Go examples) loads in the static amc
#     (through the bundle's plug-in host, with no AMC_PLUGIN_HOST set) and
#     scores what the build tree's dynamic amc scores.
set -euo pipefail
src=$1 build=$2
shift 2
. "$src/packaging/test_common.sh"
new_scratch

version=$("$build/tools/amc/amc" --version | sed -n '1s/^amc //p')
name="amc-$version-$(uname -m)-linux"
tarball=$("$src/ci/release-bundle.sh" --no-build --build-dir "$build" --out "$scratch/out" | tail -n 1)
[ "$tarball" = "$scratch/out/$name.tar.gz" ] || fail "bundle is $tarball, expected $name.tar.gz"
[ "$(ls -A "$scratch/out")" = "$name.tar.gz" ] || fail "the bundle script left more than the tarball: $(ls -A "$scratch/out")"

mkdir "$scratch/empty"
tar -C "$scratch/empty" -xzf "$tarball"
[ "$(ls -A "$scratch/empty")" = "$name" ] || fail "the tarball does not hold exactly one folder $name"
b="$scratch/empty/$name"
for f in bin/amc libexec/amc/amc-plugin-host include/amc/amc_plugin.h share/pkgconfig/amc-plugin.pc \
  share/cmake/amc/amcConfig.cmake share/man/man1/amc.1 share/doc/amc/README.md \
  share/doc/amc/docs/install.md share/doc/amc/docs/ci-recipe.md share/doc/amc/docs/plugins.md \
  share/amc/corpus/README.md README.md; do
  [ -f "$b/$f" ] || fail "the bundle lacks $f"
done
[ ! -e "$b/bin/amc_static" ] || fail "the bundle has both amc and amc_static"
if readelf -l "$b/bin/amc" | grep -q "program interpreter"; then
  fail "the bundle's amc is not static"
fi
host="$b/libexec/amc/amc-plugin-host"
[ -x "$host" ] || fail "the bundle's amc-plugin-host is not executable"
readelf -l "$host" | grep -q "program interpreter" || fail "the bundle's amc-plugin-host is not dynamic"
for lib in $(readelf -d "$host" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
  case "$lib" in
    libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*) ;;
    *) fail "the bundle's amc-plugin-host needs $lib" ;;
  esac
done
for tree in conformance/cases corpus; do
  want=$(cd "$src/$tree" && find . -name '*.ops' | wc -l)
  got=$(cd "$b/share/amc/$tree" && find . -name '*.ops' | wc -l)
  [ "$got" -eq "$want" ] || fail "the bundle has $got .ops under share/amc/$tree, the source tree $want"
done

check_version "$b/bin/amc" "$version"
check_replay_installed "$b/bin/amc" "$b"
run_away "$b/bin/amc" conform --backends model,impl --junit "$scratch/c.xml" --markdown "$scratch/c.md"
[ "$rc" -eq 0 ] || fail "the bundle's amc conform exited $rc"
grep -q ": [1-9][0-9]* of [0-9]* rules pass, [0-9]* skipped, 0 fail\$" "$scratch/last.log" ||
  fail "no passing score line"
check_reports "$scratch/c.xml" "$scratch/c.md"
# The rules are named from the bundle's data folder (share/amc relative
# names), not from a path into the source tree.
grep -q 'name="conformance/cases/' "$scratch/c.xml" || fail "rules are not named from the data folder"
if grep -qF "$src" "$scratch/c.xml"; then fail "a rule comes from the source tree $src"; fi
for plugin in "$@"; do
  [ -f "$plugin" ] || fail "$plugin is missing (build it first)"
  bundled=$(score "$b/bin/amc" "$plugin" "$scratch/lang")
  built=$(score "$build/tools/amc/amc" "$plugin" "$scratch/lang-build")
  echo "$(basename "$plugin"): static bundle amc '$bundled', build tree amc '$built'"
  [ "$bundled" = "$built" ] || fail "$(basename "$plugin") scores differently in the bundle's static amc"
done
echo PASS
