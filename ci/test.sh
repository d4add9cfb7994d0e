#!/usr/bin/env bash
# Runs every test, installing what is missing first:
#   1. the default build: every ctest (unit, conformance, differential,
#      property, corpus, fuzz replay, CLI, concurrency, kernel, plugin);
#   2. ASan+UBSan: the same suites but the long differential runs;
#   3. TSan: the concurrency tests and everything that runs threads;
#   4. the fuzz smoke run (each libFuzzer target about a minute);
#   5. the kernel matrix (Debian's 5.10, 6.1, newest 6.x longterm and newest
#      7.x cloud kernels under QEMU, the 7.x with 2 of 4 CPUs online, plus
#      this kernel; ci/kernel-matrix.sh --all boots every series).
# Usage: ci/test.sh [STAGE...]   (stages: default asan tsan fuzz matrix; all
# by default). With AMC_REQUIRE_KERNEL=1 (CI), a test that cannot reach the
# kernel fails instead of skipping.
set -euo pipefail
cd "$(dirname "$0")/.."
stages=("$@")
[ ${#stages[@]} -gt 0 ] || stages=(default asan tsan fuzz matrix)
jobs="$(nproc)"

stage() {
  echo
  echo "=== ci/test.sh: $1 ($(date -u +%H:%M:%S))"
}

ci/install-deps.sh
for s in "${stages[@]}"; do
  case "$s" in
    default)
      stage "default build, every test"
      ci/build.sh default
      ctest --preset default -j "$jobs"
      ;;
    asan)
      stage "ASan + UBSan"
      ci/build.sh asan
      ctest --preset asan -j "$jobs" -LE "differential|fuzz-catch|matrix"
      ;;
    tsan)
      stage "TSan: the concurrent code and a multi-threaded campaign"
      ci/install-deps.sh
      cmake --preset tsan >/dev/null
      cmake --build --preset tsan --target array_map_test \
        array_map_concurrency_test impl_backend_test amc \
        impl_invariants_test kernel_invariants_test linearizability_test runner_test
      ctest --preset tsan -j "$jobs" -L concurrency
      ctest --preset tsan -j "$jobs" -R "ArrayMap|Impl|AtomicBytes" -LE "differential|concurrency"
      TSAN_OPTIONS=halt_on_error=1 build/tsan/tools/amc/amc run --jobs 2 \
        --sequences 400 --seed 1 --out build/tsan/amc-out >build/tsan/amc-run.log 2>&1 \
        || { tail -n 60 build/tsan/amc-run.log; exit 1; }
      tail -n 3 build/tsan/amc-run.log
      ;;
    fuzz)
      stage "fuzz smoke"
      ci/fuzz-smoke.sh 45
      ;;
    matrix)
      stage "kernel matrix"
      ci/kernel-matrix.sh
      ;;
    *)
      echo "ci/test.sh: unknown stage '$s' (default asan tsan fuzz matrix)" >&2
      exit 2
      ;;
  esac
done
echo
echo "=== ci/test.sh: all stages passed (${stages[*]})"
