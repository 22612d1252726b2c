#!/usr/bin/env python3
"""Latency of attnc plans next to ONNX Runtime on the same machine, in the same run.

Optional: needs python3 with numpy, onnx and onnxruntime. For each model and sequence length it
times ONNX Runtime on random token ids below the model's vocabulary (and an all-ones mask; median
of --repeat runs after a warm-up, --threads intra-op threads) and then `attnc bench` on each
converted plan (synthetic inputs of the same shapes; latency does not depend on the token
values). It does this --rounds times, alternating, so that a burst of load from other work on a
shared machine hits both sides alike; each round gives a ratio, and the table shows the medians
over rounds and the range of the ratio. "of peak" is the model's matrix-product FLOPs per second
as a fraction of the sgemm rate `attnc bench` measures (1024^3, same threads).

  python3 scripts/bench_models.py --attnc .build/release/attnc \
      --model ../shared/models/bert_mini_legacy 128 512 2048 \
      --model ../shared/models/gpt2_mini_dynamo 2048 8192

--variant NAME[:k=v,...] (repeatable) also times plans converted with that attention variant,
one row each after the exact row, with the ratio to the same ONNX Runtime run.
"""
import argparse, os, sys, tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import attnc_bench as bench_plan, attnc_convert, make_feeds, ort_latency, ort_session  # noqa: E402


def attnc_bench(attnc, plan, n, threads, repeat):
    """`attnc bench` on the plan: its median latency, matrix-product FLOPs and sgemm peak."""
    result, peak = bench_plan(attnc, plan, n, threads, repeat)
    return result["median_ms"], result["matmul_gflop"], peak


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--model", nargs="+", action="append", required=True, metavar=("DIR", "SEQ"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternating rounds of ONNX Runtime then attnc (medians over rounds are shown)")
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| model | seq | ONNX Runtime (ms) | attnc plan | attnc (ms) | attnc / ORT | ratio range | matmul GFLOP "
          "| sgemm peak GFLOP/s | ORT of peak | attnc of peak |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as work:
        for spec in args.model:
            folder, lengths = spec[0], [int(x) for x in spec[1:]]
            model = os.path.join(folder, "model.onnx")
            name = os.path.basename(os.path.normpath(folder))
            plans = []
            for variant in ["exact"] + args.variant:
                plan = os.path.join(work, f"{name}-{len(plans)}.attnc")
                # The exact row must say so: convert's default policy is balanced.
                extra = ["--policy", "exact"] if variant == "exact" else ["--variant", variant]
                attnc_convert(args.attnc, model, plan, extra)
                plans.append((variant, plan))
            for n in lengths:
                # Token ids below the model's own vocabulary (the fixtures have 100 rows).
                feeds = make_feeds(model, n, rng)
                session = ort_session(model, feeds, args.threads)
                ort_rounds, attnc_rounds = [], {variant: [] for variant, _ in plans}
                for _ in range(args.rounds):
                    ort_rounds.append(ort_latency(session, feeds, args.repeat))
                    for variant, plan in plans:
                        attnc_rounds[variant].append(attnc_bench(args.attnc, plan, n, args.threads, args.repeat))
                del session
                ort_ms = float(np.median(ort_rounds))
                for variant, _ in plans:
                    rounds = attnc_rounds[variant]
                    attnc_ms = float(np.median([r[0] for r in rounds]))
                    ratios = [r[0] / o for r, o in zip(rounds, ort_rounds)]
                    gflop, peak = rounds[0][1], float(np.median([r[2] for r in rounds]))
                    # ORT computes exact attention: its rate is only comparable on the exact row.
                    ort_peak = f"{100 * gflop / (ort_ms / 1e3) / peak:.0f}%" if variant == "exact" else "-"
                    attnc_peak = 100 * gflop / (attnc_ms / 1e3) / peak
                    print(f"| {name} | {n} | {ort_ms:.2f} | {variant} | {attnc_ms:.2f} | {np.median(ratios):.3f}x "
                          f"| {min(ratios):.3f}–{max(ratios):.3f} | {gflop:.2f} | {peak:.0f} | {ort_peak} | {attnc_peak:.0f}% |",
                          flush=True)

if __name__ == "__main__":
    sys.exit(main())
