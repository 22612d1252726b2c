#!/usr/bin/env bash
# Runs attnc's main job on the bundled sample model: installs missing system packages, builds
# attnc in release mode, and inspects samples/bert_tiny/model.onnx.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product attnc >&2
attnc=$(swift build -c release --show-bin-path)/attnc
set -x
"$attnc" inspect samples/bert_tiny/model.onnx
"$attnc" inspect samples/bert_tiny/model.onnx --input-shape input_ids=1,128 --input-shape attention_mask=1,128
