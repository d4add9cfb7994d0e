#!/bin/sh
# examples/plugin_conform_test.sh AMC PLUGIN EXIT SCORE [FAIL_RULE...]:
# `amc conform --backends model,plugin:PLUGIN` exits EXIT, prints the score
# line SCORE ("N of M rules pass, K skipped, F fail"), names every FAIL_RULE
# as a FAIL and no other, and writes a Markdown report with that score, JSON
# with the same counts and JUnit with one test case per rule under stable
# names (the same names on a second run).
#
# The scores are exact on purpose: a new case changes them, and the change
# is reviewed here (a plug-in that silently stops running a rule must show).
set -eu
AMC=$1 PLUGIN=$2 EXPECT_EXIT=$3 SCORE=$4
shift 4
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
fail() { echo "FAIL: $*"; exit 1; }

status=0
"$AMC" conform --backends "model,plugin:$PLUGIN" --markdown "$out/r.md" \
  --json "$out/r.json" --junit "$out/r.xml" >"$out/out" 2>&1 || status=$?
cat "$out/out"
[ "$status" -eq "$EXPECT_EXIT" ] || fail "exit $status, expected $EXPECT_EXIT"
grep -q ": $SCORE\$" "$out/out" || fail "score line is not '$SCORE'"
grep -qF "**score: $SCORE**" "$out/r.md" || fail "the Markdown report lacks the score"
fails=$(grep -c '^FAIL ' "$out/out" || true)
[ "$fails" -eq "$#" ] || fail "$fails FAIL lines, expected $#"
for rule in "$@"; do
  grep -q "^FAIL  $rule: " "$out/out" || fail "rule $rule is not a FAIL"
done
python3 - "$out/r.json" "$out/r.xml" "$SCORE" <<'PY'
import json, re, sys, xml.etree.ElementTree as ET
report = json.load(open(sys.argv[1]))
m = re.match(r"(\d+) of (\d+) rules pass, (\d+) skipped, (\d+) fail", sys.argv[3])
want = dict(zip(["pass", "rules", "skip", "fail"], map(int, m.groups())))
got = {k: report["score"][k] for k in want}
assert got == want, (got, want)
assert len(report["rules"]) == want["rules"]
cases = ET.parse(sys.argv[2]).getroot().findall(".//testcase")
assert len(cases) == want["rules"], len(cases)
assert sum(c.find("skipped") is not None for c in cases) == want["skip"]
assert sum(c.find("failure") is not None for c in cases) == want["fail"]
names = [c.get("name") for c in cases]
assert len(set(names)) == len(names), "test case names repeat"
# Named by the rule (its file), nothing of the run (seed, counts, times).
assert names == [r["name"] for r in report["rules"]], names
PY
# Stable names: a second run gives the same test cases.
"$AMC" conform --backends "model,plugin:$PLUGIN" --junit "$out/again.xml" >/dev/null 2>&1 || true
python3 - "$out/r.xml" "$out/again.xml" <<'PY'
import sys, xml.etree.ElementTree as ET
names = lambda f: [c.get("name") for c in ET.parse(f).getroot().findall(".//testcase")]
assert names(sys.argv[1]) == names(sys.argv[2])
PY
echo "PASS"
