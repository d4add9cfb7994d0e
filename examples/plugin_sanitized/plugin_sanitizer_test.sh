#!/bin/sh
# examples/plugin_sanitized/plugin_sanitizer_test.sh AMC ASAN_PLUGIN
# PLAIN_PLUGIN OUT_DIR (PLAIN_PLUGIN "-" where there is none): a plug-in built with -fsanitize=address,undefined
# that writes one byte past its heap block on an update of an ARRAY map's
# last key (plugin_overflow.c) runs inside amc's plug-in child; `amc run`
# reports it at that update as SANITIZER with ASan's report (the error line,
# the access, the planted function's frame) in its log, in the minimized
# one-op reproducer and in the JUnit, and `amc replay` of the reproducer
# fails the same way. The same source built without a sanitizer passes the
# same campaign: the fault is invisible without ASan.
set -u
AMC=$1 ASAN_PLUGIN=$2 PLAIN_PLUGIN=$3 OUT=$4
rm -rf "$OUT"
mkdir -p "$OUT"
fail() { echo "FAIL: $*"; exit 1; }
run() {  # run PLUGIN DIR: amc run's exit status
  s=0
  "$AMC" run --backends "model,plugin:$1" --seed 1 --sequences 1000 --jobs 2 \
    --out "$2/repro" --junit "$2/run.xml" >"$2/run.log" 2>&1 || s=$?
  return $s
}

if [ "$PLAIN_PLUGIN" = - ]; then
  echo "unsanitized build: none in this build (every plug-in has ASan)"
else
  mkdir -p "$OUT/plain"
  run "$PLAIN_PLUGIN" "$OUT/plain"
  s=$?
  [ "$s" -eq 0 ] || { cat "$OUT/plain/run.log"; fail "the unsanitized build exited $s, expected 0 (the fault must be invisible without ASan)"; }
  echo "unsanitized build: $(grep -m1 'sequences,' "$OUT/plain/run.log")"
fi

mkdir -p "$OUT/asan"
run "$ASAN_PLUGIN" "$OUT/asan"
s=$?
cat "$OUT/asan/run.log"
[ "$s" -eq 1 ] || fail "amc run exited $s, expected 1"
grep -q "^1000 sequences," "$OUT/asan/run.log" || fail "the campaign did not run its 1000 sequences"
for want in "plugin:libamc_plugin_overflow_asan.so SANITIZER" "sanitizer report" \
    "ERROR: AddressSanitizer: heap-buffer-overflow" "WRITE of size 1" "in planted_update"; do
  grep -q -e "$want" "$OUT/asan/run.log" || fail "the run's report does not say '$want'"
done
f=$(find "$OUT/asan/repro" -name '*.ops' | sort | head -n 1)
[ -n "$f" ] || fail "no .ops reproducer"
cat "$f"
ops=$(grep -cv -e '^#' -e '^env ' -e '^map ' -e '^$' "$f")
[ "$ops" -eq 1 ] || fail "the reproducer keeps $ops ops, expected the one update"
grep -v '^#' "$f" | grep -q '^update ' || fail "the reproducer's op is not an update"
grep -q '^# sanitizer report' "$f" || fail "the reproducer does not carry the sanitizer report"
grep -q '^# .*ERROR: AddressSanitizer: heap-buffer-overflow' "$f" || fail "the reproducer lacks ASan's error line"
grep -q 'ERROR: AddressSanitizer: heap-buffer-overflow' "$OUT/asan/run.xml" || fail "the JUnit lacks ASan's error line"
grep -q 'SANITIZER' "$OUT/asan/run.xml" || fail "the JUnit does not name SANITIZER"
s=0
"$AMC" replay --backends "model,plugin:$ASAN_PLUGIN" "$f" >"$OUT/replay.log" 2>&1 || s=$?
cat "$OUT/replay.log"
[ "$s" -eq 1 ] || fail "amc replay exited $s, expected 1"
grep -q "ERROR: AddressSanitizer: heap-buffer-overflow" "$OUT/replay.log" || fail "amc replay does not show the report"
echo "PASS: reported at the update as SANITIZER with ASan's report; invisible without ASan"
