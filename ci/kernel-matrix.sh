#!/usr/bin/env bash
# Kernel matrix: checks the model against Debian's cloud kernels under QEMU
# and against this machine's kernel, then proves that a broken guest (one
# whose kernel panics, one without init) is reported as a failure.
#
# Without --all (CI): 5.10, 6.1, the newest 6.x longterm series, the newest
# 7.x series, that 7.x again with 2 of 4 CPUs online, and the host; 1000
# sequences each. With --all: every series Debian publishes for amd64 cloud
# images, plus two guests with more possible than online CPUs, 2000 sequences
# each. Series and point releases are resolved from Debian's indexes on every
# run (ci/kernel_matrix.py); kernels are cached in $AMC_KERNEL_CACHE (default
# /var/cache/amc/kernels). Reports: build/matrix/matrix.txt, .json, -junit.xml;
# per guest build/matrix/<label>/ (guest.log, divergences/*.ops).
#
# Usage: ci/kernel-matrix.sh [--all] [extra kernel_matrix.py options]
#   e.g. ci/kernel-matrix.sh --kernels 5.10,7.3,7.3@2/4 --sequences 500
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target amc_static
amc=build/default/tools/amc/amc_static
out=build/matrix

set +e
python3 ci/kernel_matrix.py --amc "$amc" --corpus corpus --out "$out" --host "$@"
matrix_rc=$?
set -e

# The self-tests boot the oldest cached series there is, 6.1 (the image is
# already in the cache after the matrix above).
echo "== self-test: a guest whose kernel panics must be reported as a failure"
set +e
python3 ci/kernel_matrix.py --amc "$amc" --corpus corpus --out "$out/broken" \
  --kernels 6.1 --broken panic --timeout 120 > "$out/broken.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q "guest kernel panic" "$out/broken.log"; then
  echo "FAIL: the panicking guest was not reported as a failure (exit $rc):"
  tail -n 20 "$out/broken.log"
  exit 1
fi
echo "ok: the panicking guest failed the matrix (exit 1, 'guest kernel panic')"

echo "== self-test: a guest that fails before its init (retried once) is still a failure"
set +e
python3 ci/kernel_matrix.py --amc "$amc" --corpus corpus --out "$out/noinit" \
  --kernels 6.1 --broken noinit --timeout 120 > "$out/noinit.log" 2>&1
rc=$?
set -e
if [ "$rc" -ne 1 ] || ! grep -q "second boot" "$out/noinit.log"; then
  echo "FAIL: the guest without init was not booted twice and failed (exit $rc):"
  tail -n 20 "$out/noinit.log"
  exit 1
fi
echo "ok: the guest without init was booted twice and failed the matrix (exit 1)"

if [ "$matrix_rc" -ne 0 ]; then
  echo "kernel matrix: FAILED (exit $matrix_rc; $out/matrix.txt)"
fi
exit "$matrix_rc"
