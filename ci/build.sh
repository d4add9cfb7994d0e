#!/usr/bin/env bash
# Installs what is missing, then configures and builds one preset
# (default: "default"). Usage: ci/build.sh [PRESET]
set -euo pipefail
cd "$(dirname "$0")/.."
preset="${1:-default}"
ci/install-deps.sh
cmake --preset "$preset" >/dev/null
cmake --build --preset "$preset"
