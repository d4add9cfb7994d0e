#!/usr/bin/env bash
# Fuzz smoke run: builds the `fuzz` preset (libFuzzer + ASan + UBSan) and runs
# each fuzzer for about a minute on its seed corpus (in a scratch copy, so
# the checked-in corpus stays minimal), failing on any crash, leak, hang or
# sanitizer report. Then proves the fuzzer still catches the deliberately
# faulty backend, and a planted fault in a plug-in loaded in its process
# within a bounded number of runs. Usage: ci/fuzz-smoke.sh [SECONDS_PER_FUZZER]
set -euo pipefail
cd "$(dirname "$0")/.."
seconds="${1:-60}"
ci/install-deps.sh
cmake --preset fuzz >/dev/null
cmake --build --preset fuzz --target differential_fuzzer ops_parser_fuzzer \
  differential_fuzzer_replay ops_parser_fuzzer_replay amc_plugin_magic

build=build/fuzz/fuzzers
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

run() {
  local fuzzer="$1"; shift
  mkdir -p "$work/$fuzzer"
  cp -r "$@" "$work/$fuzzer/" 2>/dev/null || true
  echo "== $fuzzer: ${seconds}s"
  if ! "$build/$fuzzer" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2560 \
      -dict="fuzzers/$fuzzer.dict" -artifact_prefix="$work/$fuzzer-" \
      -print_final_stats=1 "$work/$fuzzer" >"$work/$fuzzer.log" 2>&1; then
    echo "FAIL: $fuzzer crashed; log tail:"
    tail -n 60 "$work/$fuzzer.log"
    for crash in "$work/$fuzzer"-*; do
      [ -e "$crash" ] || continue
      echo "-- crash input $crash as .ops:"
      "build/fuzz/fuzzers/${fuzzer}_replay" --to-ops "$crash" || true
    done
    exit 1
  fi
  grep -E "^(stat::number_of_executed_units|stat::average_exec_per_sec|Done)" \
    "$work/$fuzzer.log" || true
}

run differential_fuzzer fuzzers/differential_fuzzer_seed_corpus/.
run ops_parser_fuzzer fuzzers/ops_parser_fuzzer_seed_corpus/. \
  conformance/cases/. corpus/regressions/.

echo "== differential_fuzzer against the faulty backend"
fuzzers/expect_fuzzer_catches_faulty.sh "$build/differential_fuzzer" \
  "$build/differential_fuzzer_replay" | tail -n 6
echo "== differential_fuzzer against a plug-in in its process (bounded runs)"
ctest --preset fuzz -R differential_fuzzer_finds_a_planted_fault_in_a_plugin \
  --output-on-failure | tail -n 4
echo "fuzz-smoke: PASS"
