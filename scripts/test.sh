#!/usr/bin/env bash
# Runs attnc's test suite: installs missing system packages, then `swift test` in release mode
# with testability (kernels run 10-50x faster than in debug; the IR is still verified after every
# pass through ATTNC_VERIFY=1). Extra arguments go to `swift test` (e.g. --filter DimTests).
# Tests that need ../shared (the fixtures beside the checkout) skip with a message when it is absent.
# Then, without extra arguments, the Python package's tests (python/tests, pytest over the
# libattnc_c this build made); skipped with a message when numpy or pytest is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
# Tests run in parallel; keep OpenBLAS single-threaded so 2 cores are not oversubscribed.
export OPENBLAS_NUM_THREADS=1 ATTNC_VERIFY=1
flags=(-c release -Xswiftc -enable-testing)
swift build "${flags[@]}" --build-tests
swift test "${flags[@]}" --skip-build "$@"
[ $# -eq 0 ] || exit 0
if ! python3 -c "import numpy, pytest" 2>/dev/null; then
  echo "skipped: the Python package's tests (python/tests) need numpy and pytest (pip install numpy pytest)"
  exit 0
fi
PYTHONPATH="$PWD/python" exec python3 -m pytest -q -rs python/tests
