#!/usr/bin/env bash
# packaging/deb_test.sh SRC BUILD [PLUGIN...]: the Debian package end to end,
# never touching the real system:
#   - ci/package.sh --no-build makes amc_<version>_<arch>.deb from BUILD;
#     its control file has shlibdeps-computed Depends (covering what amc
#     and amc-plugin-host link), and it holds the tool, the static twin,
#     the plug-in host under /usr/libexec/amc, the header, pkg-config and
#     CMake files, the cases, the corpus and the man page (which renders without warnings
#     and has a section per command `amc --help` lists);
#   - dpkg -x unpacks it into a scratch root; from an empty folder, HOME
#     elsewhere, AMC_DATA_DIR unset: the installed amc and amc_static print
#     the version, `amc info` runs, `amc replay` with no path replays the
#     installed cases (and only them), and a lone copy of amc without
#     share/amc finds no cases instead of falling back to the source tree;
#   - the example C plug-in builds against the installed header from
#     `pkg-config --cflags amc-plugin` (PKG_CONFIG_PATH in the root), and
#     through find_package(amc) / amc::plugin_header in a CMake project;
#     the installed `amc conform` scores it as the build tree's amc does;
#   - each PLUGIN given (the Rust and Go examples) scores the same with the
#     installed amc and amc_static (through the installed plug-in host) as
#     the C plug-in (they implement the same kinds).
set -euo pipefail
src=$1 build=$2
shift 2
. "$src/packaging/test_common.sh"
new_scratch

version=$("$build/tools/amc/amc" --version | sed -n '1s/^amc //p')
arch=$(dpkg --print-architecture)
deb=$("$src/ci/package.sh" --no-build --build-dir "$build" --out "$scratch/pkg" | tail -n 1)
echo "package: $deb"
[ "$deb" = "$scratch/pkg/amc_${version}_${arch}.deb" ] || fail "package is $deb, expected amc_${version}_${arch}.deb"

dpkg-deb --info "$deb" >"$scratch/control"
cat "$scratch/control"
grep -q "^ Package: amc\$" "$scratch/control" || fail "Package is not amc"
grep -q "^ Version: $version\$" "$scratch/control" || fail "Version is not $version"
grep -q "^ Depends: .*libc6" "$scratch/control" || fail "Depends lacks libc6 (dpkg-shlibdeps did not run?)"
# Every shared library amc and the plug-in host link directly (their NEEDED
# entries) comes from a package named in Depends: dpkg-shlibdeps left none
# out.
for elf in "$build/tools/amc/amc" "$build/plugin/amc-plugin-host"; do
  needed=$(readelf -d "$elf" | sed -n 's/.*Shared library: \[\(.*\)\]$/\1/p')
  [ -n "$needed" ] || fail "readelf finds no NEEDED library in $elf"
  for so in $needed; do
    lib=$(ldd "$elf" | awk -v l="$so" '$1 == l && $2 == "=>" { print $3 }')
    # The dynamic loader (NEEDED where amc reads glibc's __rseq_offset, which
    # ld.so exports) is listed by ldd by its path, with no "=>".
    [ -n "$lib" ] || lib=$(ldd "$elf" |
      awk -v l="/$so" 'substr($1, length($1) - length(l) + 1) == l { print $1 }')
    [ -n "$lib" ] || fail "ldd does not resolve $so"
    owner=""
    for p in "$lib" "$(readlink -f "$lib")" "/usr$lib"; do
      owner=$(dpkg -S "$p" 2>/dev/null | head -n 1 | cut -d: -f1) && [ -n "$owner" ] && break
    done
    [ -n "$owner" ] || fail "no package owns $lib"
    sed -n 's/^ Depends: //p' "$scratch/control" | tr ',' '\n' | awk '{ print $1 }' | grep -qxF "$owner" ||
      fail "$(basename "$elf") needs $so from $owner, which Depends does not name"
  done
done

dpkg-deb --contents "$deb" | awk '{ print $NF }' | sed 's|^\./|/|' >"$scratch/files"
for f in /usr/bin/amc /usr/bin/amc_static /usr/libexec/amc/amc-plugin-host \
  /usr/include/amc/amc_plugin.h \
  /usr/share/pkgconfig/amc-plugin.pc /usr/share/cmake/amc/amcConfig.cmake \
  /usr/share/cmake/amc/amcConfigVersion.cmake /usr/share/man/man1/amc.1 \
  /usr/share/doc/amc/README.md /usr/share/amc/corpus/README.md; do
  grep -qx "$f" "$scratch/files" || fail "the package lacks $f"
done
for tree in conformance/cases corpus; do
  want=$(cd "$src/$tree" && find . -name '*.ops' | wc -l)
  got=$(grep -c "^/usr/share/amc/$tree/.*\.ops\$" "$scratch/files" || true)
  [ "$got" -eq "$want" ] || fail "the package has $got .ops under share/amc/$tree, the source tree $want"
done

root="$scratch/root"
dpkg -x "$deb" "$root"
prefix="$root/usr"
check_version "$prefix/bin/amc" "$version"
check_version "$prefix/bin/amc_static" "$version"
run_away "$prefix/bin/amc" info
[ "$rc" -eq 0 ] || fail "installed amc info exited $rc"
grep -Eq "^  model +available" "$scratch/last.log" || fail "amc info does not list the model as available"
check_replay_installed "$prefix/bin/amc" "$prefix"
check_replay_installed "$prefix/bin/amc_static" "$prefix"
check_no_fallback "$prefix/bin/amc"

# The man page: renders cleanly, one section per command of amc --help.
warnings=$(groff -man -Tutf8 -ww -z "$prefix/share/man/man1/amc.1" 2>&1)
[ -z "$warnings" ] || fail "amc.1 renders with warnings: $warnings"
for c in $("$prefix/bin/amc" --help | sed -n '/^commands:/,/^$/p' | awk 'NR > 1 && NF { print $1 }'); do
  grep -qx ".SS amc $c" "$prefix/share/man/man1/amc.1" || fail "amc.1 has no section for amc $c"
done

# A plug-in against the installed header: pkg-config, then CMake.
build_minimal_plugin "$prefix/share/pkgconfig" "$src" "$scratch/libminimal_pc.so"
installed_score=$(score "$prefix/bin/amc" "$scratch/libminimal_pc.so" "$scratch/minimal")
echo "installed amc, C plug-in: $installed_score"
build_score=$(score "$build/tools/amc/amc" "$scratch/libminimal_pc.so" "$scratch/minimal-build")
[ "$installed_score" = "$build_score" ] ||
  fail "the installed amc scores '$installed_score', the build tree's '$build_score'"

mkdir -p "$scratch/cmake-project"
cat >"$scratch/cmake-project/CMakeLists.txt" <<CMAKE
cmake_minimum_required(VERSION 3.16)
project(runtime_plugin C)
find_package(amc $version REQUIRED CONFIG)
add_library(runtime_plugin SHARED $src/plugin/testing/minimal_plugin.c)
target_link_libraries(runtime_plugin PRIVATE amc::plugin_header)
if(NOT EXISTS "\${AMC_EXECUTABLE}" OR NOT IS_DIRECTORY "\${AMC_DATA_DIR}/conformance/cases")
  message(FATAL_ERROR "amcConfig.cmake: AMC_EXECUTABLE or AMC_DATA_DIR wrong")
endif()
CMAKE
(cd "$scratch/cwd" && cmake -S "$scratch/cmake-project" -B "$scratch/cmake-build" \
  -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF >"$scratch/cmake.log" 2>&1 &&
  cmake --build "$scratch/cmake-build" >>"$scratch/cmake.log" 2>&1) ||
  { cat "$scratch/cmake.log"; fail "a CMake project does not build with find_package(amc)"; }
grep -q "amc_DIR:PATH=$prefix/share/cmake/amc\$" "$scratch/cmake-build/CMakeCache.txt" ||
  fail "find_package(amc) did not use the installed config"
run_away "$prefix/bin/amc" info --backends "plugin:$scratch/cmake-build/libruntime_plugin.so"
[ "$rc" -eq 0 ] || fail "the CMake-built plug-in does not load"

for plugin in "$@"; do
  [ -f "$plugin" ] || fail "$plugin is missing (build it first)"
  for amc in amc amc_static; do
    s=$(score "$prefix/bin/$amc" "$plugin" "$scratch/lang")
    echo "installed $amc, $(basename "$plugin"): $s"
    [ "$s" = "$installed_score" ] || fail "$(basename "$plugin") scores '$s' with $amc, the C plug-in '$installed_score'"
  done
done
echo PASS
