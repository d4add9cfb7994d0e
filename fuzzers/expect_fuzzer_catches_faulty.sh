#!/usr/bin/env bash
# Runs the libFuzzer differential_fuzzer against model + the deliberately
# faulty backend from an empty corpus for at most 60 s, and expects it to
# abort with a divergence report whose crash input converts (--to-ops) into
# a .ops case that still shows the fault.
# Usage: expect_fuzzer_catches_faulty.sh FUZZER REPLAY
set -uo pipefail
fuzzer="$1" replay="$2"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir "$work/corpus"

AMC_BACKENDS=model,faulty "$fuzzer" -max_total_time=60 -seed=1 \
  -artifact_prefix="$work/" "$work/corpus" >"$work/log" 2>&1
status=$?
fail() { echo "FAIL: $*"; tail -n 40 "$work/log"; exit 1; }
[ "$status" -ne 0 ] || fail "the fuzzer ran 60 s without finding the fault"
grep -q "DIVERGENCE" "$work/log" || fail "no divergence report"
grep -Eq "faulty +: ENOENT" "$work/log" || fail "the report does not show faulty's ENOENT"
grep -q "reproducer (.ops):" "$work/log" || fail "no .ops reproducer printed"
crash="$(ls "$work"/crash-* 2>/dev/null | head -n 1)"
[ -n "$crash" ] || fail "no crash input saved"
grep -E "^(#[0-9]+|Done|==[0-9]+==)" "$work/log" | tail -n 3

AMC_BACKENDS=model,faulty "$replay" --to-ops "$crash" >"$work/case.ops" ||
  fail "--to-ops failed"
cat "$work/case.ops"
grep -q "^update " "$work/case.ops" || fail "the .ops case has no update"
grep -q "divergence on model,faulty" "$work/case.ops" || fail "the .ops case does not name the divergence"
echo "PASS: caught and converted"
