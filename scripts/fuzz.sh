#!/usr/bin/env bash
# Coverage-guided fuzzing of attnc's readers with libFuzzer (docs/reliability.md).
#
#   scripts/fuzz.sh TARGET SECONDS [libFuzzer flags...]    TARGET: onnx plan npy pb dims
#   scripts/fuzz.sh all SECONDS                            each target in turn (CI's smoke run)
#
# Builds the attnc-fuzz executable (the Fuzz/ target, added to the package only when
# ATTNC_FUZZ=1) with -sanitize=fuzzer,address into .build-fuzz, so the normal build never sees
# it; generates each target's seed corpus once (.build-fuzz/seeds/TARGET: ONNX models and
# TensorProtos from ../shared, plans converted with .build/release/attnc, .npy files and dims
# written here); then runs under `nice -n 10`, growing .build-fuzz/corpus/TARGET, with the
# dictionary Fuzz/dictionaries/TARGET.dict. A crash, sanitizer report, leak, timeout or
# out-of-memory leaves its input in .build-fuzz/findings/TARGET/ and exits non-zero.
# Reproduce one: ATTNC_FUZZ_TARGET=TARGET .build-fuzz/release/attnc-fuzz FILE
# ATTNC_FUZZ_NO_BUILD=1 runs the executable as built (`all` builds once).
set -euo pipefail
cd "$(dirname "$0")/.."
targets=(onnx plan npy pb dims)
target=${1:?usage: scripts/fuzz.sh TARGET SECONDS (TARGET: ${targets[*]} or all)}
seconds=${2:?usage: scripts/fuzz.sh TARGET SECONDS}
shift 2
if [ "$target" = all ]; then
  for t in "${targets[@]}"; do bash "$0" "$t" "$seconds" "$@"; ATTNC_FUZZ_NO_BUILD=1; export ATTNC_FUZZ_NO_BUILD; done
  exit 0
fi
case " ${targets[*]} " in *" $target "*) ;; *) echo "unknown target '$target' (${targets[*]})" >&2; exit 2 ;; esac

out=.build-fuzz
shared=../shared
# SwiftPM's --sanitize fuzzer links libFuzzer but leaves Swift code without coverage counters;
# -sanitize-coverage adds them (edges, comparisons for magic bytes, the PC table for cov/ft).
# The address sanitizer goes through -Xswiftc/-Xcc: two --sanitize options reach the compiler
# in a varying order, which makes SwiftPM rebuild everything on every call.
[ -n "${ATTNC_FUZZ_NO_BUILD:-}" ] || ATTNC_FUZZ=1 swift build -c release --build-path "$out" --sanitize fuzzer \
  -Xswiftc -sanitize=address -Xcc -fsanitize=address \
  -Xswiftc -sanitize-coverage=edge,trace-cmp,inline-8bit-counters,pc-table \
  -Xswiftc -enable-testing --product attnc-fuzz >&2

seeds=$out/seeds/$target
if [ ! -d "$seeds" ]; then
  mkdir -p "$seeds.partial"
  case $target in
    onnx)
      # Every ONNX node test's model, and the shared models under 1 MB (their weights inline).
      for m in "$shared"/onnx-node/*/model.onnx "$shared"/models/*/model.onnx; do
        [ -f "$m" ] && [ "$(stat -c %s "$m")" -lt 1048576 ] && cp "$m" "$seeds.partial/$(basename "$(dirname "$m")").onnx"
      done ;;
    pb)
      # The node tests' inputs and outputs under 64 KiB.
      for f in "$shared"/onnx-node/*/test_data_set_0/*.pb; do
        [ -f "$f" ] && [ "$(stat -c %s "$f")" -lt 65536 ] && cp "$f" "$seeds.partial/$(basename "$(dirname "$(dirname "$f")")")_$(basename "$f")"
      done ;;
    plan)
      # Plans converted from a few node tests and a small attention model.
      [ -x .build/release/attnc ] || swift build -c release --product attnc >&2
      for m in test_add test_matmul_2d test_gemm_default_no_bias test_softmax_axis_1 test_layer_normalization_2d_axis0 \
        test_gelu_default_1 test_reshape_extended_dims test_gather_0 test_conv_with_strides_padding test_where_example; do
        [ -f "$shared/onnx-node/$m/model.onnx" ] && .build/release/attnc convert "$shared/onnx-node/$m/model.onnx" \
          -o "$seeds.partial/$m.attnc" --policy exact >/dev/null 2>&1 || true
      done
      [ -f "$shared/models/attention_op_causal/model.onnx" ] && .build/release/attnc convert "$shared/models/attention_op_causal/model.onnx" \
        -o "$seeds.partial/attention.attnc" --policy exact >/dev/null 2>&1 || true ;;
    npy|dims)
      python3 scripts/fuzz_seeds.py "$target" "$seeds.partial" ;;
  esac
  mv "$seeds.partial" "$seeds"
fi
corpus=$out/corpus/$target
findings=$out/findings/$target
mkdir -p "$corpus" "$findings"
echo "fuzzing $target for $seconds s: $(ls "$seeds" | wc -l) seeds, $(ls "$corpus" | wc -l) corpus inputs" >&2
# The Swift runtime's backtracer would symbolicate for minutes after a trap; libFuzzer reports it.
export SWIFT_BACKTRACE=enable=no ATTNC_FUZZ_TARGET=$target OPENBLAS_NUM_THREADS=1
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=1}
exec nice -n 10 "$out/release/attnc-fuzz" -max_total_time="$seconds" -print_final_stats=1 \
  -dict="Fuzz/dictionaries/$target.dict" -artifact_prefix="$findings/" -timeout=10 -rss_limit_mb=4096 \
  "$@" "$corpus" "$seeds"
