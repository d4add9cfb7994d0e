#!/bin/sh
# examples/plugin_static_host_test.sh AMC_STATIC HOST DYNAMIC_AMC PLUGIN SRC:
# a statically linked amc runs a plug-in whose runtime needs a dynamic
# program (the Go example) through the plug-in host (plugin/plugin_host.h):
#   - HOST (amc-plugin-host) is dynamic and needs no library beyond libc,
#     libm, libstdc++ and libgcc_s (nothing of libbpf's), and started by
#     hand it says what it is and exits 2;
#   - AMC_STATIC alone in a prefix with no host fails to load PLUGIN, and
#     the error names the host it looked for and AMC_PLUGIN_HOST;
#   - the same with HOST at PREFIX/libexec/amc/amc-plugin-host loads it
#     with no variable set, and scores with `amc conform` (SRC's cases and
#     corpus linked in as PREFIX/share/amc) exactly what DYNAMIC_AMC scores;
#   - AMC_PLUGIN_HOST=HOST works from anywhere; naming a missing file is
#     refused with a message naming it.
set -eu
AMC_STATIC=$1 HOST=$2 AMC=$3 PLUGIN=$4 SRC=$5
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }
run() {  # run LOG CMD...: sets $rc, output in LOG (printed)
  log=$1; shift
  echo "+ $*"
  rc=0
  env -u AMC_PLUGIN_HOST -u AMC_DATA_DIR "$@" >"$log" 2>&1 || rc=$?
  cat "$log"
}
score() {  # score LOG: the score line of an `amc conform` output
  sed -n 's/^.*: \([0-9]* of [0-9]* rules pass, [0-9]* skipped, [0-9]* fail\)$/\1/p' "$1"
}

readelf -l "$AMC_STATIC" | grep -q "program interpreter" && fail "$AMC_STATIC is not static"
readelf -l "$HOST" | grep -q "program interpreter" || fail "$HOST is not dynamically linked"
needed=$(readelf -d "$HOST" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
echo "amc-plugin-host needs: $needed"
for lib in $needed; do
  case "$lib" in
    libc.so.*|libm.so.*|libstdc++.so.*|libgcc_s.so.*|ld-linux*) ;;
    *) fail "amc-plugin-host needs $lib (only libc, libm, libstdc++, libgcc_s)" ;;
  esac
done
run "$out/by-hand" "$HOST"
[ "$rc" -eq 2 ] || fail "the host started by hand exited $rc, expected 2"
grep -q "runs a plug-in's child process for amc" "$out/by-hand" || fail "the host does not say what it is"

# A prefix with the static amc and no host.
mkdir -p "$out/p/bin" "$out/p/share/amc"
cp "$AMC_STATIC" "$out/p/bin/amc"
ln -s "$SRC/conformance" "$SRC/corpus" "$out/p/share/amc/"
run "$out/nohost" "$out/p/bin/amc" info --backends "plugin:$PLUGIN"
[ "$rc" -ne 0 ] || fail "the static amc with no host loaded $PLUGIN (the Go runtime was expected to fail in a static child)"
grep -qF "no plug-in host at $out/p/bin/../libexec/amc/amc-plugin-host" "$out/nohost" ||
  fail "the load error does not name the host it looked for"
grep -q "AMC_PLUGIN_HOST" "$out/nohost" || fail "the load error does not name AMC_PLUGIN_HOST"

# The host installed beside it: found with no variable.
mkdir -p "$out/p/libexec/amc"
cp "$HOST" "$out/p/libexec/amc/amc-plugin-host"
run "$out/info" "$out/p/bin/amc" info --backends "plugin:$PLUGIN"
[ "$rc" -eq 0 ] || fail "the static amc with its host exited $rc on amc info"
run "$out/static" "$out/p/bin/amc" conform --backends "model,plugin:$PLUGIN"
[ "$rc" -eq 0 ] || fail "the static amc's conform exited $rc"
run "$out/dynamic" "$AMC" conform --backends "model,plugin:$PLUGIN"
[ "$rc" -eq 0 ] || fail "the dynamic amc's conform exited $rc"
s=$(score "$out/static") d=$(score "$out/dynamic")
echo "static amc + host: '$s'; dynamic amc: '$d'"
[ -n "$d" ] && [ "$s" = "$d" ] || fail "the static amc with its host scores '$s', the dynamic amc '$d'"

# The variable, from the build tree's amc_static.
rc=0
AMC_PLUGIN_HOST="$HOST" "$AMC_STATIC" info --backends "plugin:$PLUGIN" >"$out/var" 2>&1 || rc=$?
cat "$out/var"
[ "$rc" -eq 0 ] || fail "AMC_PLUGIN_HOST=$HOST amc_static info exited $rc"
rc=0
AMC_PLUGIN_HOST="$out/missing" "$AMC_STATIC" info --backends "plugin:$PLUGIN" >"$out/bad" 2>&1 || rc=$?
cat "$out/bad"
[ "$rc" -ne 0 ] || fail "AMC_PLUGIN_HOST naming a missing file was accepted"
grep -qF "AMC_PLUGIN_HOST=$out/missing is not an executable file" "$out/bad" ||
  fail "the refusal does not name AMC_PLUGIN_HOST's value"
echo PASS
