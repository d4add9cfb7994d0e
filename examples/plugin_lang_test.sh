#!/bin/sh
# examples/plugin_lang_test.sh AMC PLUGIN OUTDIR RELEASE REASON...: checks a
# plug-in example written in another language (examples/plugin_rust,
# examples/plugin_go) end to end through the amc tool:
#   - `amc info --backends plugin:PLUGIN` loads it and shows it targets
#     Linux RELEASE;
#   - `amc run --backends model,plugin:PLUGIN --sequences 2000 --seed 1`
#     exits 0 after its whole budget, and its summary's left-out line names
#     every REASON the plug-in gives for the kinds it leaves out.
set -u
amc=$1 plugin=$2 out=$3 release=$4
shift 4
. "$(dirname "$0")/plugin_run_common.sh"
fail() { echo "FAIL: $*"; exit 1; }

info=$("$amc" info --backends "plugin:$plugin" 2>&1)
rc=$?
echo "$info"
[ "$rc" -eq 0 ] || fail "amc info exited $rc"
echo "$info" | grep -q "^plugin:$(basename "$plugin"): available" ||
  fail "amc info does not list the plug-in as available"
echo "$info" | grep -q "^  targets: Linux $release\$" ||
  fail "amc info does not show the target release $release"

run_campaign "$amc" "$plugin" 0 "$out" 1 2000
grep -q "^divergences: 0\$" "$out/run.log" || fail "the summary does not say 0 divergences"
[ "$#" -gt 0 ] || fail "no left-out reason to look for"
for reason in "$@"; do
  grep -qF "not run by plugin:$(basename "$plugin") ($reason)" "$out/run.log" ||
    fail "the summary does not list the left-out reason '$reason'"
done
echo PASS
