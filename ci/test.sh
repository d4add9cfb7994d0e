#!/usr/bin/env bash
# Runs every test: installs what is missing, builds, and runs ctest.
set -euo pipefail
cd "$(dirname "$0")/.."
ci/build.sh default
ctest --preset default --output-on-failure -j "$(nproc)"
