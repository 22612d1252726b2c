#!/usr/bin/env python3
"""Latency of attnc plans next to ONNX Runtime on the same machine, in the same run.

Optional: needs python3 with numpy and onnxruntime (pip install onnxruntime). For each model and
sequence length it writes random token ids (and an all-ones attention mask) as .npy, times ONNX
Runtime (median of --repeat runs after a warm-up, --threads intra-op threads) and then
`attnc run --stats` on the same inputs, and prints a Markdown table.

  python3 scripts/bench_models.py --attnc .build/release/attnc \
      --model ../shared/models/bert_mini_legacy 128 512 2048 \
      --model ../shared/models/gpt2_mini_dynamo 2048 8192
"""
import argparse, os, re, subprocess, sys, tempfile, time

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


def attnc_latency(attnc, plan, files, threads, repeat):
    command = [attnc, "run", plan, "--threads", str(threads), "--repeat", str(repeat + 1), "--stats"]
    for name, path in files.items():
        command += ["--input", f"{name}={path}"]
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    match = re.search(r"median ([0-9.]+) ms", output)
    if not match:
        raise RuntimeError(f"no timing in attnc output:\n{output}")
    return float(match.group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--model", nargs="+", action="append", required=True, metavar=("DIR", "SEQ"))
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    rng = np.random.default_rng(0)
    print(f"| model | seq | ONNX Runtime (ms) | attnc exact (ms) | attnc / ORT |")
    print(f"|---|---:|---:|---:|---:|")
    with tempfile.TemporaryDirectory() as work:
        for spec in args.model:
            folder, lengths = spec[0], [int(x) for x in spec[1:]]
            model = os.path.join(folder, "model.onnx")
            name = os.path.basename(os.path.normpath(folder))
            plan = os.path.join(work, name + ".attnc")
            subprocess.run([args.attnc, "convert", model, "-o", plan, "--force"], check=True, capture_output=True)
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
                files = {}
                for key, value in feeds.items():
                    files[key] = os.path.join(work, f"{name}_{n}_{key}.npy")
                    np.save(files[key], value)
                ort_ms = ort_latency(model, feeds, args.threads, args.repeat)
                attnc_ms = attnc_latency(args.attnc, plan, files, args.threads, args.repeat)
                print(f"| {name} | {n} | {ort_ms:.2f} | {attnc_ms:.2f} | {attnc_ms / ort_ms:.2f}x |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
