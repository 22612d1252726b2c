#!/usr/bin/env bash
# Runs attnc's test suite: installs missing system packages, then `swift test`.
# Tests that need ../shared (the fixtures beside the checkout) skip with a message when it is absent.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Tests run in parallel; keep OpenBLAS single-threaded so 2 cores are not oversubscribed.
export OPENBLAS_NUM_THREADS=1
swift build --build-tests
exec swift test --skip-build "$@"
