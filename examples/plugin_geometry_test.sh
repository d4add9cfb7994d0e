#!/bin/sh
# examples/plugin_geometry_test.sh AMC PLUGIN WANT OUTDIR: a default
# `amc run --backends model,plugin:PLUGIN` (no geometry given, so the
# campaign rotates through geometries, some with possible-but-offline CPUs)
# must exit WANT; its summary must list a geometry with fewer online CPUs
# than possible ones. WANT=1: the report names the per-CPU buffer, and the
# reproducer replays as a failure under its recorded env.
set -u
amc=$1 plugin=$2 want=$3 out=$4
. "$(dirname "$0")/plugin_run_common.sh"
run_campaign "$amc" "$plugin" "$want" "$out" 7 1400
if ! grep -q '4 possible/2 online CPUs, 4 KiB pages *[1-9]' "$out/run.log"; then
  echo "FAIL: the summary does not show sequences run with 4 possible/2 online CPUs"
  exit 1
fi
if [ "$want" -eq 1 ]; then
  if ! grep -q 'per-CPU buffer: CPU [0-9]*.s slot' "$out/run.log"; then
    echo "FAIL: the report does not name the per-CPU buffer"
    exit 1
  fi
  f=$(grep -l 'per-CPU buffer' "$out"/repro/*.ops | sort | head -n 1)
  if [ -z "$f" ]; then
    echo "FAIL: no reproducer names the per-CPU buffer"
    exit 1
  fi
  cat "$f"
  if ! grep -q '^env possible_cpus=[0-9]* online_cpus=' "$f"; then
    echo "FAIL: the reproducer does not record its online CPUs"
    exit 1
  fi
  expect_replay_fails "$amc" "$plugin" "$f"
fi
echo PASS
