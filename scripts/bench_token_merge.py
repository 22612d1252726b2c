#!/usr/bin/env python3
"""Token merging against attention variants, side by side (issue #6). Converts MODEL into:

  exact                      --policy exact
  merge r=R                  --policy exact --token-merge R        (token merging alone)
  merge auto                 --policy exact --token-merge auto
  variants (fastest)         --policy fastest                      (the best attention variant alone)
  variants (balanced)        --policy balanced
  balanced + merge auto      --policy balanced --token-merge auto  (both together)
  fastest + merge r=R        --policy fastest --token-merge R

all planned at --seq-len N, then times every plan round-robin with `attnc bench` (a fresh seeded
order each round) and measures each plan's output error against the exact plan on one seeded
input of N tokens: ||y - y_exact|| / ||y_exact|| over every output element.

    python3 scripts/bench_token_merge.py --model ../shared/models/bert_mini_legacy/model.onnx --seq 4096

For an image model, --image noise feeds standard normal pixels (no two patches alike) and
--image smooth a 16x16 normal image upsampled bilinearly (neighbouring patches alike, as in a
high-resolution photograph); with --image, the conversions calibrate on one more such image
(another seed) instead of attnc's generated (noise) inputs.

    python3 scripts/vit_at_size.py ../shared/models/vit_tiny_legacy/model.onnx --size 512 -o /tmp/vit512/model.onnx
    python3 scripts/bench_token_merge.py --model /tmp/vit512/model.onnx --seq 4097 --image smooth
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

import numpy as np


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, **kwargs)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)}\n{result.stdout}\n{result.stderr}")
    return result.stdout


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--model", required=True)
    parser.add_argument("--seq", type=int, required=True)
    parser.add_argument("--r", type=int, help="fixed r per block (default seq/16)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="timed runs per attnc bench call (after a warm-up)")
    parser.add_argument("--image", choices=["noise", "smooth"], help="float (image) inputs: pixels of this kind, also for calibration")
    args = parser.parse_args()
    r = args.r or max(1, args.seq // 16)

    folder = tempfile.mkdtemp(prefix="attnc-tome-")

    def image(shape, seed):
        rng = np.random.default_rng(seed)
        if args.image != "smooth":
            return rng.standard_normal(shape).astype(np.float32)
        base = rng.standard_normal(shape[:-2] + [16, 16])
        side = shape[-1]
        centres = np.clip((np.arange(side) + 0.5) * 16 / side - 0.5, 0, 15)
        low = np.floor(centres).astype(int)
        high = np.minimum(low + 1, 15)
        frac = centres - low
        rows = base[..., low, :] * (1 - frac)[:, None] + base[..., high, :] * frac[:, None]
        smooth = rows[..., low] * (1 - frac) + rows[..., high] * frac
        return np.ascontiguousarray(smooth / smooth.std(), dtype=np.float32)

    calibration = []
    if args.image:
        header = json.loads(run([args.attnc, "inspect", args.model, "--format", "json"]))
        directory = os.path.join(folder, "calibration", "sample_0")
        os.makedirs(directory)
        for port in header["inputs"]:
            shape = [1 if not isinstance(d, int) else d for d in port["shape"]]
            np.save(os.path.join(directory, port["name"] + ".npy"), image(shape, 1))
        calibration = ["--calibration", os.path.join(folder, "calibration")]
    configurations = [
        ("exact", ["--policy", "exact"]),
        (f"merge r={r}", ["--policy", "exact", "--token-merge", str(r)]),
        ("merge auto", ["--policy", "exact", "--token-merge", "auto"]),
        ("variants (fastest)", ["--policy", "fastest"]),
        ("variants (balanced)", ["--policy", "balanced"]),
        ("balanced + merge auto", ["--policy", "balanced", "--token-merge", "auto"]),
        (f"fastest + merge r={r}", ["--policy", "fastest", "--token-merge", str(r)]),
    ]
    plans, notes = {}, {}
    for name, options in configurations:
        path = os.path.join(folder, name.replace(" ", "_").replace("=", "").replace("(", "").replace(")", "").replace("+", "") + ".attnc")
        policy = options[options.index("--policy") + 1]
        needs = policy != "exact" or "auto" in options
        out = run([args.attnc, "convert", args.model, "-o", path, "--seq-len", str(args.seq), "--force"] + options + (calibration if needs else []))
        plans[name] = path
        notes[name] = [line.strip() for line in out.splitlines() if "token merging:" in line or "token merge auto" in line]
        print(f"converted {name}", file=sys.stderr)

    # One seeded input at seq tokens: ids below 1000 (the benchmark BERTs' vocabulary), mask ones.
    rng = np.random.default_rng(0)
    header = json.loads(run([args.attnc, "inspect", plans["exact"], "--format", "json"]))
    feeds = []
    for port in header["inputs"]:
        shape = [1 if str(d).startswith("batch") else args.seq if not str(d).isdigit() else int(d) for d in port["shape"]]
        file = os.path.join(folder, port["name"] + ".npy")
        if port["name"] == "attention_mask":
            np.save(file, np.ones(shape, np.int64))
        elif port["dtype"].startswith("int"):
            np.save(file, rng.integers(0, 1000, shape).astype(np.int64))
        else:
            np.save(file, image(shape, 0))
        feeds += ["--input", f"{port['name']}={file}"]
    outputs = {}
    for name, path in plans.items():
        directory = os.path.join(folder, "out_" + os.path.basename(path))
        run([args.attnc, "run", path, "--output-dir", directory] + feeds)
        outputs[name] = [np.load(os.path.join(directory, f)) for f in sorted(os.listdir(directory))]
    errors = {}
    for name, values in outputs.items():
        num = sum(float(np.sum((a.astype(np.float64) - b) ** 2)) for a, b in zip(values, outputs["exact"]))
        den = sum(float(np.sum(b.astype(np.float64) ** 2)) for b in outputs["exact"])
        errors[name] = (num / den) ** 0.5

    times = {name: [] for name in plans}
    fastest = {}
    for round_index in range(args.rounds):
        order = list(plans.items())
        random.Random(round_index).shuffle(order)
        for name, path in order:
            out = run([args.attnc, "bench", path, "--seq", str(args.seq), "--repeat", str(args.repeat), "--threads", str(args.threads), "--format", "json"],
                      env=dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads)))
            result = json.loads(out)["results"][0]
            times[name].append(result["median_ms"])
            fastest[name] = min(fastest.get(name, float("inf")), result["min_ms"])
        print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    exact = statistics.median(times["exact"])
    print(f"{args.model} at seq {args.seq}, {args.threads} threads, {args.rounds} rounds (round-robin); "
          "median of the per-round medians, and the least single run")
    print(f"  {'plan':26s} {'median ms':>10s} {'speedup':>8s} {'least ms':>9s} {'speedup':>8s} {'output error':>13s}")
    for name, _ in configurations:
        value = statistics.median(times[name])
        least = fastest[name]
        print(f"  {name:26s} {value:10.1f} {exact / value:7.2f}x {least:9.1f} {fastest['exact'] / least:7.2f}x {errors[name]:13.4f}")
        for note in notes[name]:
            print(f"      {note}")


if __name__ == "__main__":
    main()
