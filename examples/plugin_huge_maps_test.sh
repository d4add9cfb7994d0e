#!/bin/sh
# examples/plugin_huge_maps_test.sh AMC IMPL_PLUGIN WRAP32_PLUGIN OUTDIR:
# maps past 4 GiB and the robustness probe, end to end (issue 17).
#  1. `amc run --huge-maps --backends model,impl,plugin:IMPL_PLUGIN` PASSes
#     (maps at or just past 2^32 bytes, touched at their first, last and
#     wrap-around elements, final states compared by streamed digests),
#     within its time budget, and ran huge maps (shown by 2).
#  2. The same seed and sequences with the planted 32-bit wrap-around
#     (WRAP32_PLUGIN) FAIL with a crash at an op on a huge map: the only maps
#     that plug-in gets wrong are those whose size wraps.
#  3. A default run (no --huge-maps) on model,plugin:WRAP32_PLUGIN FAILs
#     with the robustness probe's finding: the plug-in accepted a map the
#     model refuses (value_size past INT_MAX), was driven on alone, and
#     crashed; its minimized reproducer replays to the same signature.
set -u
amc=$1 impl=$2 wrap=$3 out=$4
# A child reads a 4 GiB state in its first digest request: a sanitizer
# build on a loaded machine takes longer than the default 10 s per reply.
# This test is about agreement and findings, not speed.
export AMC_PLUGIN_TIMEOUT_MS="${AMC_PLUGIN_TIMEOUT_MS:-300000}"
seed=7 sequences=40
rm -rf "$out"
mkdir -p "$out"
fail() { echo "FAIL: $*"; exit 1; }

start=$(date +%s)
"$amc" run --huge-maps --backends "model,impl,plugin:$impl" --seed $seed \
  --sequences $sequences --jobs 2 --out "$out/impl" >"$out/impl.log" 2>&1
rc=$?
took=$(( $(date +%s) - start ))
cat "$out/impl.log"
[ $rc -eq 0 ] || fail "huge-map run on the impl plug-in exited $rc, expected 0"
grep -q "^$sequences sequences," "$out/impl.log" || fail "did not run $sequences sequences"
echo "huge-map run on the impl plug-in: PASS in $took s"

"$amc" run --huge-maps --backends "model,impl,plugin:$wrap" --seed $seed \
  --sequences $sequences --jobs 2 --out "$out/wrap" >"$out/wrap.log" 2>&1
rc=$?
cat "$out/wrap.log"
[ $rc -eq 1 ] || fail "huge-map run on the wrap-around plug-in exited $rc, expected 1"
grep -q "CRASH_SIGSEGV" "$out/wrap.log" || fail "no CRASH_SIGSEGV reported"

"$amc" run --backends "model,plugin:$wrap" --seed 1 --sequences 1500 --jobs 2 \
  --out "$out/probe" >"$out/probe.log" 2>&1
rc=$?
cat "$out/probe.log"
[ $rc -eq 1 ] || fail "default run on the wrap-around plug-in exited $rc, expected 1"
sig="accepted invalid map (model E2BIG), then crashed at op"
grep -q -F "$sig" "$out/probe.log" || fail "no '$sig' finding"
f=$(grep -l -F "signature: $sig" "$out"/probe/*.ops | head -n 1)
[ -n "$f" ] || fail "no reproducer with the probe's signature"
cat "$f"
"$amc" replay --backends "model,plugin:$wrap" "$f" >"$out/replay.log" 2>&1
rc=$?
cat "$out/replay.log"
[ $rc -eq 1 ] || fail "amc replay exited $rc on the probe's reproducer, expected 1"
grep -q "CRASH_SIGSEGV" "$out/replay.log" || fail "the replay does not crash the plug-in"
echo PASS
