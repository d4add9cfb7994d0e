#!/bin/sh
# examples/plugin_signatures_test.sh AMC PLUGIN OUT_DIR: a plug-in with four
# distinct planted faults (plugin/testing/test_plugin.cc FAULTY_MULTI) gives
# exactly four divergence signatures in a campaign, one minimized
# reproducer each, and each reproducer replays, from a fresh child, to the
# signature its header names; the run's JUnit has one failing test case per
# signature and stays small.
set -eu
AMC=$1 PLUGIN=$2 OUT=$3
rm -rf "$OUT"
mkdir -p "$OUT"
fail() { echo "FAIL: $*"; exit 1; }
status=0
"$AMC" run --backends "model,plugin:$PLUGIN" --sequences 3000 --seed 7 --jobs 2 \
  --out "$OUT/repro" --json "$OUT/run.json" --junit "$OUT/run.xml" >"$OUT/run.txt" 2>&1 || status=$?
[ "$status" -eq 1 ] || { cat "$OUT/run.txt"; fail "run exited $status, expected 1"; }
grep -q "^divergences: [0-9]* in 4 signatures (4 reproducers written" "$OUT/run.txt" ||
  { cat "$OUT/run.txt"; fail "not exactly four signatures with a reproducer each"; }
n=0
for f in "$OUT"/repro/*.ops; do
  n=$((n + 1))
  want=$(sed -n 's/^# signature: //p' "$f")
  [ -n "$want" ] || fail "$f has no signature line"
  ops=$(grep -cv '^#\|^env\|^map' "$f" || true)
  [ "$ops" -le 2 ] || fail "$f keeps $ops ops (expected at most 2)"
  s=0
  "$AMC" replay --backends "model,plugin:$PLUGIN" --json "$OUT/replay.json" "$f" >/dev/null 2>&1 || s=$?
  [ "$s" -eq 1 ] || fail "replay of $f exited $s, expected 1"
  got=$(python3 -c "import json,sys; print(json.load(open(sys.argv[1]))['results'][0]['signature'])" "$OUT/replay.json")
  [ "$got" = "$want" ] || fail "$f replays to '$got', its header says '$want'"
done
[ "$n" -eq 4 ] || fail "$n reproducer files, expected 4"
python3 - "$OUT/run.xml" <<'PY'
import os, sys, xml.etree.ElementTree as ET
cases = ET.parse(sys.argv[1]).getroot().findall(".//testcase")
failing = [c for c in cases if c.find("failure") is not None]
assert len(failing) == 4, [c.get("name") for c in failing]
assert os.path.getsize(sys.argv[1]) < 16384, os.path.getsize(sys.argv[1])
PY
echo "PASS: 4 signatures, each reproducer replays to its own"
