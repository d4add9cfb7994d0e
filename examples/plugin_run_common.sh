# examples/plugin_run_common.sh: shell functions shared by the plug-in CLI
# tests (sourced, not run).

# run_campaign AMC PLUGIN WANT OUT SEED SEQUENCES: runs `amc run --backends
# model,plugin:PLUGIN` with that seed and budget into OUT (log OUT/run.log,
# reproducers OUT/repro), prints the log, and exits the test unless amc
# exited WANT and ran its whole budget.
run_campaign() {
  _amc=$1 _plugin=$2 _want=$3 _out=$4 _seed=$5 _sequences=$6
  rm -rf "$_out"
  mkdir -p "$_out"
  "$_amc" run --backends "model,plugin:$_plugin" --seed "$_seed" \
    --sequences "$_sequences" --jobs 2 --out "$_out/repro" >"$_out/run.log" 2>&1
  _rc=$?
  cat "$_out/run.log"
  if [ "$_rc" -ne "$_want" ]; then
    echo "FAIL: amc run exited $_rc, expected $_want"
    exit 1
  fi
  if ! grep -q "^$_sequences sequences," "$_out/run.log"; then
    echo "FAIL: the campaign did not run its $_sequences sequences"
    exit 1
  fi
}

# expect_replay_fails AMC PLUGIN FILE: `amc replay` of FILE on model and the
# plug-in must report a failure (exit 1).
expect_replay_fails() {
  "$1" replay --backends "model,plugin:$2" "$3"
  if [ $? -ne 1 ]; then
    echo "FAIL: amc replay does not fail on the reproducer"
    exit 1
  fi
}
