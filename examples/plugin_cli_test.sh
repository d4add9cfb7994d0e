#!/bin/sh
# examples/plugin_cli_test.sh AMC PLUGIN WANT OUTDIR [REPRO_PATTERN [LOG_PATTERN]]:
# runs `amc run --backends model,plugin:PLUGIN` for a fixed seed and budget
# and checks its exit status is WANT (0: agreed, 1: divergence). For WANT=1
# the run must also have written a minimized .ops reproducer of ONE op
# matching REPRO_PATTERN (grep) that `amc replay` fails on, and its output
# must match LOG_PATTERN when given. Every run must reach its whole budget.
set -u
amc=$1 plugin=$2 want=$3 out=$4 repro_pattern=${5:-.} log_pattern=${6:-.}
. "$(dirname "$0")/plugin_run_common.sh"
run_campaign "$amc" "$plugin" "$want" "$out" 1 3000
if [ "$want" -eq 1 ]; then
  if ! grep -q -e "$log_pattern" "$out/run.log"; then
    echo "FAIL: the report does not mention '$log_pattern'"
    exit 1
  fi
  f=$(find "$out/repro" -name '*.ops' | sort | head -n 1)
  if [ -z "$f" ]; then
    echo "FAIL: no .ops reproducer under $out/repro"
    exit 1
  fi
  cat "$f"
  ops=$(grep -cv -e '^#' -e '^env ' -e '^map ' -e '^$' "$f")
  if [ "$ops" -ne 1 ] || ! grep -v '^#' "$f" | grep -q -e "$repro_pattern"; then
    echo "FAIL: reproducer is not one op matching '$repro_pattern'"
    exit 1
  fi
  expect_replay_fails "$amc" "$plugin" "$f"
fi
echo PASS
