#!/usr/bin/env bash
# Runs attnc's main job on the bundled sample model: installs missing system packages, builds
# attnc in release mode, converts samples/bert_tiny/model.onnx to an exact plan and runs it on the
# sample's test data (checked against ONNX Runtime's outputs), then converts it under the
# balanced policy with the test data as calibration inputs and verifies that plan against the
# model. The first cost-model run measures this machine once (about a minute; cached).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
swift build -c release --product attnc >&2
attnc=$(swift build -c release --show-bin-path)/attnc
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
set -x
"$attnc" convert samples/bert_tiny/model.onnx -o "$out/bert_tiny.attnc" --policy exact
"$attnc" run "$out/bert_tiny.attnc" --test-data samples/bert_tiny/test_data_set_0
"$attnc" run "$out/bert_tiny.attnc" --test-data samples/bert_tiny/test_data_set_1 --repeat 10 --stats
"$attnc" convert samples/bert_tiny/model.onnx -o "$out/balanced.attnc" --policy balanced --calibration samples/bert_tiny
"$attnc" verify "$out/balanced.attnc" --reference samples/bert_tiny/model.onnx --test-data samples/bert_tiny/test_data_set_1 --max-output-error 0.02
"$attnc" inspect samples/bert_tiny/model.onnx --input-shape input_ids=1,128 --input-shape attention_mask=1,128
