#!/usr/bin/env python3
"""attnc's linear layers at float32 and at bfloat16 (`--linear-precision bf16`) next to ONNX
Runtime and OpenVINO at its default precision (bf16 on this CPU), with each one's output error
against ONNX Runtime (issue #22).

For every model and length: `attnc convert --policy exact` (f32) and `--policy exact
--linear-precision bf16`, both run on the same feeds as ONNX Runtime (bench_common.py) for the
errors (relative Frobenius, first output), then ONNX Runtime, OpenVINO default, attnc f32 and
attnc bf16 timed in turn, --rounds times (median of --repeat runs each; `attnc bench` draws its
own inputs of the same shapes). With --layers, also one MiniLM-shaped linear layer of each shape
(python3 scripts/export_minilm.py OUT --layers) at f32 and bf16: GFLOP/s from `attnc bench`.

  python3 scripts/bench_linear_precision.py [--models bert_mini,minilm,vit_s] [--rounds 3] [--threads 2] [--layers]
"""
import argparse
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def entries(shared, real, minilm):
    return [
        ("bert_mini_legacy", os.path.join(shared, "models", "bert_mini_legacy", "model.onnx"), [128, 512]),
        ("minilm (random weights)", os.path.join(minilm, "fp32", "model.onnx"), [512]),
        ("vit_s_focus (real)", os.path.join(real, "vit_s_focus", "model.onnx"), [224, 896]),
    ]


def first_output(outputs, names):
    return outputs[names[0]] if names[0] in outputs else next(iter(outputs.values()))


def bench_row(name, model, n, args, plans, work, rng):
    feeds = common.make_feeds(model, n, rng)
    shape = " ".join(f"{k}={'x'.join(map(str, v.shape))}" for k, v in feeds.items())
    session = common.ort_session(model, feeds, args.threads)
    names = [o.name for o in session.get_outputs()]
    reference = session.run(None, feeds)[0]
    ov, ov_request = common.openvino_request(model, feeds, args.threads)
    errors = {"ov_default": common.relative_error(common.openvino_outputs(ov_request, feeds)[0], reference)}
    for precision, plan in plans.items():
        outputs = common.attnc_outputs(args.attnc, plan, feeds, os.path.join(work, f"{precision}_{n}"), args.threads)
        errors[precision] = common.relative_error(first_output(outputs, names), reference)
    one = common.ort_latency(session, feeds, 1)
    repeat = max(2, min(args.repeat, int(args.budget / max(one, 1e-3))))
    rounds = {"ort": [], "ov_default": [], "f32": [], "bf16": []}
    kernels = {}
    for _ in range(args.rounds):
        rounds["ort"].append(common.ort_latency(session, feeds, repeat))
        rounds["ov_default"].append(common.openvino_latency(ov_request, feeds, repeat))
        for precision, plan in plans.items():
            result, _ = common.attnc_bench(args.attnc, plan, n, args.threads, repeat)
            rounds[precision].append(result["median_ms"])
            kernels[precision] = result.get("kernel_ms", {})
    median = {k: float(statistics.median(v)) for k, v in rounds.items()}
    ratio = [b / f for b, f in zip(rounds["bf16"], rounds["f32"])]
    return {"model": name, "shape": shape, "ms": median, "rounds": rounds, "errors": errors, "repeat": repeat,
            "bf16_over_f32": median["bf16"] / median["f32"], "bf16_over_f32_range": [min(ratio), max(ratio)],
            "ov_precision": common.openvino_precision(ov), "kernel_ms": kernels}


def print_row(row):
    ms, e = row["ms"], row["errors"]
    lo, hi = row["bf16_over_f32_range"]
    print(f"| {row['model']} | {row['shape']} | {ms['f32']:.1f} | {ms['bf16']:.1f} | **{row['bf16_over_f32']:.2f}** "
          f"({lo:.2f}–{hi:.2f}) | {ms['ort']:.1f} | {ms['ov_default']:.1f} ({row['ov_precision']}) "
          f"| {ms['bf16'] / ms['ov_default']:.2f} | {e['f32']:.1e} | {e['bf16']:.1e} | {e['ov_default']:.1e} |", flush=True)


def convert_both(args, model, stem):
    """{precision: plan path} of `model` converted exact at f32 and at bf16 (STEM_f32.attnc, ...)."""
    plans = {}
    for precision in ["f32", "bf16"]:
        plans[precision] = f"{stem}_{precision}.attnc"
        common.attnc_convert(args.attnc, model, plans[precision], ("--policy", "exact", "--linear-precision", precision))
    return plans


def layer_rows(args, work):
    print("\n| layer [seq, k] x [k, n] | f32 GFLOP/s | bf16 GFLOP/s | bf16/f32 |")
    print("|---|---:|---:|---:|", flush=True)
    for shape in ["384x384", "384x1536", "1536x384"]:
        model = os.path.join(args.minilm, "layers", f"f32_{shape}", "model.onnx")
        if not os.path.exists(model):
            print(f"skipped layer {shape}: {model} is missing", file=sys.stderr)
            continue
        plans = convert_both(args, model, os.path.join(work, f"layer_{shape}"))
        for n in [128, 512]:
            rates = {p: [] for p in plans}
            for _ in range(args.rounds):
                for precision, plan in plans.items():
                    result, _ = common.attnc_bench(args.attnc, plan, n, args.threads, 200)
                    rates[precision].append(result["gflops_per_s"])
            f32, bf16 = statistics.median(rates["f32"]), statistics.median(rates["bf16"])
            k, m = shape.split("x")
            print(f"| [{n}, {k}] x [{k}, {m}] | {f32:.1f} | {bf16:.1f} | {bf16 / f32:.2f} |", flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_zoo_arguments(parser, ROOT)
    parser.add_argument("--minilm", default="/tmp/minilm", help="export_minilm.py's output folder")
    parser.add_argument("--layers", action="store_true", help="also the per-layer GEMM rates")
    args = parser.parse_args()
    wanted = [m for m in args.models.split(",") if m]
    rng = np.random.default_rng(0)
    print("| model | input | attnc f32 ms | attnc bf16 ms | bf16/f32 (range) | ORT ms | OpenVINO default ms "
          "| attnc bf16/OV | err f32 | err bf16 | err OV |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|", flush=True)
    with tempfile.TemporaryDirectory() as work:
        for name, model, lengths in entries(args.shared, args.real, args.minilm):
            if wanted and not any(w in name for w in wanted):
                continue
            if not os.path.exists(model):
                print(f"skipped {name}: {model} is missing", file=sys.stderr)
                continue
            plans = convert_both(args, model, os.path.join(work, name.split()[0]))
            for n in lengths:
                print_row(bench_row(name, model, n, args, plans, work, rng))
        if args.layers:
            layer_rows(args, work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
