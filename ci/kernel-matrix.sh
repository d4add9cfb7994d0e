#!/usr/bin/env bash
# Kernel matrix: checks the model against Linux 6.1 and 6.12 (Debian cloud
# kernels under QEMU) and against this machine's kernel, then proves that a
# broken guest (one whose kernel panics) is reported as a failure.
# Usage: ci/kernel-matrix.sh [extra kernel_matrix.py options]
set -euo pipefail
cd "$(dirname "$0")/.."
ci/install-deps.sh
cmake --preset default >/dev/null
cmake --build --preset default --target amc_static
amc=build/default/tools/amc/amc_static
out=build/matrix

python3 ci/kernel_matrix.py --amc "$amc" --corpus corpus --out "$out" \
  --kernels 6.1,6.12 --host "$@"

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
