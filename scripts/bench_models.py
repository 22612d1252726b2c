#!/usr/bin/env python3
"""Latency of attnc plans next to ONNX Runtime on the same machine, in the same run.

Optional: needs python3 with numpy and onnxruntime (pip install onnxruntime). For each model and
sequence length it writes random token ids (and an all-ones attention mask) as .npy, times ONNX
Runtime (median of --repeat runs after a warm-up, --threads intra-op threads) and then
`attnc bench` on the converted plan (synthetic inputs of the same shapes; latency does not depend on
the token values), and prints a Markdown table. "of peak" is the model's matrix-product FLOPs per
second as a fraction of the sgemm rate `attnc bench` measures (1024^3, same threads).

  python3 scripts/bench_models.py --attnc .build/release/attnc \
      --model ../shared/models/bert_mini_legacy 128 512 2048 \
      --model ../shared/models/gpt2_mini_dynamo 2048 8192

--variant NAME[:k=v,...] (repeatable) also times plans converted with that attention variant,
one row each after the exact row, with the ratio to the same ONNX Runtime run.
"""
import argparse, json, os, subprocess, sys, tempfile, time

import numpy as np


def ort_latency(model, feeds, threads, repeat):
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        session.run(None, feeds)
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def attnc_bench(attnc, plan, n, threads, repeat):
    """`attnc bench` on the plan: its median latency, matrix-product FLOPs and sgemm peak."""
    command = [attnc, "bench", plan, "--seq", str(n), "--threads", str(threads),
               "--repeat", str(repeat), "--format", "json"]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    result = report["results"][0]
    return result["median_ms"], result["matmul_gflop"], report["sgemm_peak_gflops"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--model", nargs="+", action="append", required=True, metavar=("DIR", "SEQ"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--variant", action="append", default=[])
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print("| model | seq | ONNX Runtime (ms) | attnc plan | attnc (ms) | attnc / ORT | matmul GFLOP "
          "| sgemm peak GFLOP/s | ORT of peak | attnc of peak |")
    print("|---|---:|---:|---|---:|---:|---:|---:|---:|---:|")
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
                subprocess.run([args.attnc, "convert", model, "-o", plan, "--force"] + extra, check=True, capture_output=True)
                plans.append((variant, plan))
            import onnx
            graph = onnx.load(model, load_external_data=False).graph
            inputs = [i.name for i in graph.input]
            for n in lengths:
                feeds = {}
                for input_name in inputs:
                    if "mask" in input_name:
                        feeds[input_name] = np.ones((1, n), dtype=np.int64)
                    else:
                        feeds[input_name] = rng.integers(0, 1000, size=(1, n), dtype=np.int64)
                ort_ms = ort_latency(model, feeds, args.threads, args.repeat)
                for variant, plan in plans:
                    attnc_ms, gflop, peak = attnc_bench(args.attnc, plan, n, args.threads, args.repeat)
                    # ORT computes exact attention: its rate is only comparable on the exact row.
                    ort_peak = f"{100 * gflop / (ort_ms / 1e3) / peak:.0f}%" if variant == "exact" else "-"
                    attnc_peak = 100 * gflop / (attnc_ms / 1e3) / peak
                    print(f"| {name} | {n} | {ort_ms:.2f} | {variant} | {attnc_ms:.2f} | {attnc_ms / ort_ms:.2f}x "
                          f"| {gflop:.2f} | {peak:.0f} | {ort_peak} | {attnc_peak:.0f}% |", flush=True)

if __name__ == "__main__":
    sys.exit(main())
