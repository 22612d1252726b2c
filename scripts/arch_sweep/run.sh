#!/bin/bash
# The architecture sweep: 20 Hugging Face architectures beyond the test fixtures, tiny random
# weights, each exported by torch's legacy and dynamo exporters (and eager attention through the
# legacy one), converted by attnc (exact and balanced), run, and compared with ONNX Runtime.
# Needs torch, transformers, onnx, onnxruntime; about 20 minutes on 2 cores. Results under
# $ARCH_SWEEP (default /tmp/arch-sweep); the table on stdout.
#   bash scripts/arch_sweep/run.sh
set -u
here=$(cd "$(dirname "$0")" && pwd)
export ARCH_SWEEP=${ARCH_SWEEP:-/tmp/arch-sweep}
mkdir -p "$ARCH_SWEEP/logs"
names="mistral gemma gemma2 opt bloom falcon gpt_bigcode stablelm albert electra mpnet deberta_v2 xlm_roberta clip_text clip_vision swin beit wav2vec2 modernbert siglip_vision"
for n in $names; do
  for e in legacy dynamo; do
    [ -f "$ARCH_SWEEP/${n}_${e}/info.json" ] || python3 "$here/export.py" "$n" "$e" > "$ARCH_SWEEP/logs/${n}_${e}.log" 2>&1 || echo "export failed: $n $e (see $ARCH_SWEEP/logs)" >&2
  done
  [ -f "$ARCH_SWEEP/${n}_eager_legacy/info.json" ] || python3 "$here/export.py" "$n" legacy eager > "$ARCH_SWEEP/logs/${n}_eager_legacy.log" 2>&1 || echo "export failed: $n eager legacy" >&2
done
for folder in "$ARCH_SWEEP"/*/; do
  [ -f "$folder/model.onnx" ] && python3 "$here/evaluate.py" "$folder" --balanced
done
python3 "$here/table.py"
