#!/usr/bin/env bash
# Runs the libFuzzer differential_fuzzer against model + a plug-in loaded in
# its process (AMC_BACKENDS=model,plugin:PATH) from an empty corpus, for at
# most RUNS inputs (a run count, not a wall-clock deadline), and expects it
# to abort with a divergence report that shows the plug-in's planted E2BIG
# (examples/plugin_sanitized/plugin_magic.c: an update of key 0 whose value
# starts with the bytes 5a 17 c3 9e), found through the plug-in's own compare
# hooks, and a crash input that converts (--to-ops) into a .ops case with
# that update.
# Usage: expect_fuzzer_catches_plugin.sh FUZZER REPLAY PLUGIN RUNS [SEED]
set -uo pipefail
fuzzer="$1" replay="$2" plugin="$3" runs="$4" seed="${5:-1}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"
name="plugin:$(basename "$plugin")"

AMC_BACKENDS="model,plugin:$plugin" "$fuzzer" -runs="$runs" -seed="$seed" \
  -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
status=$?
fail() { echo "FAIL: $*"; tail -n 40 "$work/log"; exit 1; }
grep -q "differential_fuzzer: backends model,$name" "$work/log" ||
  fail "the fuzzer did not run model and $name"
grep -Eq "INFO: Loaded [2-9] modules" "$work/log" ||
  fail "the plug-in's coverage counters did not reach libFuzzer (in-process loading)"
[ "$status" -ne 0 ] || fail "the fuzzer ran $runs inputs without finding the fault"
grep -q "DIVERGENCE" "$work/log" || fail "no divergence report"
grep -Eq "$name +: E2BIG" "$work/log" || fail "the report does not show the plug-in's E2BIG"
crash="$(ls "$work"/crash-* 2>/dev/null | head -n 1)"
[ -n "$crash" ] || fail "no crash input saved"
grep -E "^#[0-9]+" "$work/log" | tail -n 1

AMC_BACKENDS="model,plugin:$plugin" "$replay" --to-ops "$crash" >"$work/case.ops" ||
  fail "--to-ops failed"
cat "$work/case.ops"
grep -Eq "^update key=0 value=5a17c39e" "$work/case.ops" ||
  fail "the .ops case has no update of key 0 with the value 5a17c39e..."
echo "PASS: caught within $runs runs and converted"
