#!/usr/bin/env bash
# Runs ONNX node tests through the attnc CLI (convert, then run --test-data on every data set),
# one line per case: "<case> ok", "<case> convert:<exit>" or "<case> run:<exit>". Crash-proof
# companion of Tests/ConformanceTests (a trap ends only that case). Logs go to $SWEEP_LOGS.
#   scripts/node_sweep.sh [-b path/to/attnc] [case ...]     (default: every case, 2 at a time)
set -uo pipefail
cd "$(dirname "$0")/.."
attnc=.build/release/attnc
if [ "${1:-}" = "-b" ]; then attnc=$2; shift 2; fi
nodes=${ATTNC_SHARED:-../shared}/onnx-node
logs=${SWEEP_LOGS:-$(mktemp -d)}
mkdir -p "$logs"
one() {
  local name=$1 folder=$nodes/$1 log=$logs/$1.log rc
  "$attnc" convert "$folder/model.onnx" -o "$logs/$name.attnc" --force >"$log" 2>&1
  rc=$?; if [ $rc -ne 0 ]; then echo "$name convert:$rc"; return; fi
  for set in "$folder"/test_data_set_*; do
    "$attnc" run "$logs/$name.attnc" --test-data "$set" >>"$log" 2>&1
    rc=$?; if [ $rc -ne 0 ]; then echo "$name run:$rc"; return; fi
  done
  echo "$name ok"
}
export -f one; export attnc nodes logs
if [ $# -gt 0 ]; then printf '%s\n' "$@"; else ls "$nodes" | grep '^test_'; fi | xargs -P 2 -I{} bash -c 'one {}'
echo "logs in $logs" >&2
