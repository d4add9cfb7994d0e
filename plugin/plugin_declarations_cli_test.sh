#!/bin/sh
# plugin/plugin_declarations_cli_test.sh AMC NO_PERCPU_PLUGIN TARGET_PLUGIN SRC:
# what a user sees of a plug-in's ABI 3 declarations through amc itself:
# `amc info --backends` lists them, `amc replay` skips (never passes) the
# cases the plug-in cannot run or was not recorded for, and `amc run` never
# generates maps it cannot create and says so.
set -eu
AMC=$1 NO_PERCPU=$2 TARGET=$3 SRC=$4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

"$AMC" info --backends "model,plugin:$NO_PERCPU" >"$out/info" 2>&1 || fail "amc info exited $?"
grep -q "does not implement map type PERCPU_ARRAY: no per-CPU storage in this runtime" "$out/info" ||
  { cat "$out/info"; fail "amc info does not list the map type left out"; }
grep -q "does not implement map_flags 0x400: maps are not mappable here" "$out/info" ||
  { cat "$out/info"; fail "amc info does not list the flag left out"; }

status=0
"$AMC" replay --backends "model,plugin:$NO_PERCPU" "$SRC/conformance/cases" >"$out/replay" 2>&1 || status=$?
[ "$status" -eq 0 ] || { cat "$out/replay"; fail "replay exited $status"; }
grep -q "^SKIP .*/lookup_percpu.ops: plugin:libamc_test_plugin_no_percpu.so does not implement map type PERCPU_ARRAY" "$out/replay" ||
  { cat "$out/replay"; fail "a PERCPU case is not a SKIP with the reason"; }
grep -q "^SKIP .*/mmap_array.ops: plugin:libamc_test_plugin_no_percpu.so does not implement map_flags 0x400" "$out/replay" ||
  { cat "$out/replay"; fail "an MMAPABLE case is not a SKIP with the reason"; }
grep -q ", 0 failed, 0 unreadable," "$out/replay" || { cat "$out/replay"; fail "replay counts"; }

# The BPF_F_CPU cases were recorded on 7.3: a plug-in targeting 7.3 runs them.
"$AMC" replay --verbose --backends "model,plugin:$TARGET" "$SRC/conformance/cases" >"$out/target" 2>&1 ||
  { cat "$out/target"; fail "replay on the 7.3 plug-in failed"; }
grep -q "^PASS .*/cpu_flags_array.ops (model, plugin:libamc_test_plugin_target_7_3.so)" "$out/target" ||
  { cat "$out/target"; fail "the 7.3 case did not run on the plug-in targeting 7.3"; }

"$AMC" run --backends "model,plugin:$NO_PERCPU" --sequences 300 --seed 4 --out "$out/run" >"$out/run.txt" 2>&1 ||
  { cat "$out/run.txt"; fail "run exited non-zero"; }
grep -q "PERCPU_ARRAY maps: not run by plugin:libamc_test_plugin_no_percpu.so" "$out/run.txt" ||
  { cat "$out/run.txt"; fail "the run summary does not list the map type left out"; }
echo "PASS"
