#!/bin/sh
# examples/plugin_children_test.sh AMC PLUGIN_DIR OUT: amc with hostile
# plug-ins (plugin/testing/test_plugin.cc's modes), end to end:
#   1. a plug-in that crashes destroying a map fails the run (exit 1) with
#      that failure named, and its reproducer fails `amc replay`;
#   2. a plug-in that keeps state across maps (crashes on its 5th map):
#      every reproducer either fails `amc replay` or says it is flaky, and
#      some say so (none reproduces from a fresh child);
#   3. a plug-in that forks sleepers: none survives amc, whether amc ends
#      normally, by SIGTERM, by SIGINT or by SIGKILL.
# Waits are on events (a file, a process), each with a generous bound.
set -u
amc=$1 dir=$2 out=$3
. "$(dirname "$0")/plugin_run_common.sh"
rm -rf "$out"
mkdir -p "$out"

# 1. crash in destroy
run_campaign "$amc" "$dir/libamc_test_plugin_crash_destroy.so" 1 "$out/destroy" 1 200
grep -q "CRASH_SIGSEGV while destroying a map" "$out/destroy/run.log" ||
  { echo "FAIL: the crash in destroy is not named"; exit 1; }
f=$(find "$out/destroy/repro" -name '*.ops' | sort | head -n 1)
[ -n "$f" ] || { echo "FAIL: no reproducer for the crash in destroy"; exit 1; }
expect_replay_fails "$amc" "$dir/libamc_test_plugin_crash_destroy.so" "$f"
"$amc" replay --backends "model,plugin:$dir/libamc_test_plugin_crash_destroy.so" "$f" |
  grep -q "was killed by SIGSEGV" || { echo "FAIL: replay does not say how the child died"; exit 1; }

# 2. state kept across maps
stateful=$dir/libamc_test_plugin_stateful.so
run_campaign "$amc" "$stateful" 1 "$out/stateful" 1 300
flaky=0
for f in "$out"/stateful/repro/*.ops; do
  [ -e "$f" ] || { echo "FAIL: no reproducer for the stateful plug-in"; exit 1; }
  if grep -q '^# flaky: did not reproduce in a fresh child' "$f"; then
    flaky=$((flaky + 1))
  else
    expect_replay_fails "$amc" "$stateful" "$f"
  fi
done
[ "$flaky" -gt 0 ] || { echo "FAIL: no reproducer is marked flaky"; exit 1; }
grep -q "flaky: did not reproduce in a fresh child; written anyway to" \
  "$out/stateful/run.log" || { echo "FAIL: the summary hides the flaky case"; exit 1; }

# 3. sleepers forked by the plug-in
fork=$dir/libamc_test_plugin_fork.so
export AMC_TEST_SLEEPER_NAME="amc-slp-$$"
AMC_TEST_SLEEPER_NAME=$(printf %.15s "$AMC_TEST_SLEEPER_NAME")
sleepers() { pgrep -x "$AMC_TEST_SLEEPER_NAME" | wc -l; }
# Up to 30 s for the sleepers to go (an event; the bound is generous).
expect_no_sleepers() {
  i=0
  while [ "$(sleepers)" -ne 0 ]; do
    i=$((i + 1))
    if [ $i -gt 300 ]; then
      echo "FAIL: $(sleepers) sleepers outlived amc ($1)"
      pkill -KILL -x "$AMC_TEST_SLEEPER_NAME"
      exit 1
    fi
    sleep 0.1
  done
  echo "no sleeper outlived amc ($1)"
}
"$amc" run --backends "model,plugin:$fork" --seed 2 --sequences 100 --jobs 2 \
  --out "$out/fork" >"$out/fork.log" 2>&1
rc=$?
[ $rc -eq 0 ] || { cat "$out/fork.log"; echo "FAIL: amc run exited $rc"; exit 1; }
expect_no_sleepers "normal exit"
for sig in TERM INT KILL; do
  "$amc" run --backends "model,plugin:$fork" --seed 2 --time 600 --jobs 2 \
    --out "$out/fork-$sig" >"$out/fork-$sig.log" 2>&1 &
  pid=$!
  i=0
  until [ "$(sleepers)" -gt 0 ]; do
    i=$((i + 1))
    [ $i -le 300 ] || { kill -KILL $pid; echo "FAIL: the plug-in never forked"; exit 1; }
    sleep 0.1
  done
  kill -$sig $pid
  wait $pid
  expect_no_sleepers "SIG$sig"
done
echo PASS
