#!/bin/sh
# examples/plugin_cli_test.sh AMC PLUGIN WANT OUTDIR [REPRO_PATTERN [LOG_PATTERN]]:
# runs `amc run --backends model,plugin:PLUGIN` for a fixed seed and budget
# and checks its exit status is WANT (0: agreed, 1: divergence). For WANT=1
# the run must also have written a minimized .ops reproducer of ONE op
# matching REPRO_PATTERN (grep) that `amc replay` fails on, and its output
# must match LOG_PATTERN when given. Every run must reach its whole budget.
set -u
amc=$1 plugin=$2 want=$3 out=$4 repro_pattern=${5:-.} log_pattern=${6:-.}
rm -rf "$out"
mkdir -p "$out"
"$amc" run --backends "model,plugin:$plugin" --seed 1 --sequences 3000 \
  --jobs 2 --out "$out/repro" >"$out/run.log" 2>&1
rc=$?
cat "$out/run.log"
if [ "$rc" -ne "$want" ]; then
  echo "FAIL: amc run exited $rc, expected $want"
  exit 1
fi
if ! grep -q '^3000 sequences,' "$out/run.log"; then
  echo "FAIL: the campaign did not run its 3000 sequences"
  exit 1
fi
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
  "$amc" replay --backends "model,plugin:$plugin" "$f"
  if [ $? -ne 1 ]; then
    echo "FAIL: amc replay does not fail on the reproducer"
    exit 1
  fi
fi
echo PASS
