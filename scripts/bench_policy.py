#!/usr/bin/env python3
"""Does a policy find the fastest plan? Converts MODEL under --policy P at --seq-len N and once
per single variant (--variant X), then times every plan side by side, round-robin, with
`attnc bench` and prints each median with its ratio to the best single-variant plan (every round in a new seeded
order; each `attnc bench` call times 2 runs after a warm-up).

    python3 scripts/bench_policy.py --attnc .build/release/attnc \
        --model ../shared/models/gpt2_mini_dynamo/model.onnx --seq 8192 --policy fastest --rounds 5
"""
import argparse
import json
import os
import random
import statistics
import subprocess
import sys
import tempfile

SETTINGS = ["softmax", "performer", "linformer", "flurka-rf", "flurka-pool", "flurka-elu", "fastmax",
            "fastmax:p=1", "scatterbrain", "nystrom"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--model", required=True)
    parser.add_argument("--seq", type=int, required=True)
    parser.add_argument("--policy", default="fastest")
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--format", choices=["table", "json"], default="table")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="attnc-policy-")
    plans = {}
    policy_plan = os.path.join(folder, "policy.attnc")
    converted = subprocess.run(
        [args.attnc, "convert", args.model, "-o", policy_plan, "--policy", args.policy, "--seq-len", str(args.seq), "--force"],
        capture_output=True, text=True)
    if converted.returncode != 0:
        sys.exit(converted.stderr)
    chosen = [line for line in converted.stdout.splitlines() if line.startswith("  ") and "least predicted" in line]
    plans[f"--policy {args.policy}"] = policy_plan
    for setting in SETTINGS:
        path = os.path.join(folder, setting.replace(":", "_").replace("=", "") + ".attnc")
        result = subprocess.run([args.attnc, "convert", args.model, "-o", path, "--variant", setting, "--force"],
                                capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit(result.stderr)
        if setting != "softmax" and "no layer could take" in result.stdout:
            continue  # every layer refused it: the same plan as softmax
        plans[f"--variant {setting}"] = path

    times = {name: [] for name in plans}
    for round_index in range(args.rounds):
        # A fresh order each round (seeded): a process that follows a memory-hungry one pays
        # more page faults, so a fixed order would favour some plans.
        order = list(plans.items())
        random.Random(round_index).shuffle(order)
        for name, path in order:
            out = subprocess.run(
                [args.attnc, "bench", path, "--seq", str(args.seq), "--repeat", "2", "--threads", str(args.threads), "--format", "json"],
                capture_output=True, text=True, env=dict(os.environ, OPENBLAS_NUM_THREADS=str(args.threads)))
            if out.returncode != 0:
                sys.exit(out.stderr)
            times[name].append(json.loads(out.stdout)["results"][0]["median_ms"])
        print(f"round {round_index + 1}/{args.rounds} done", file=sys.stderr)

    medians = {name: statistics.median(values) for name, values in times.items()}
    singles = {name: value for name, value in medians.items() if name.startswith("--variant")}
    best_name = min(singles, key=singles.get)
    policy_name = f"--policy {args.policy}"
    ratio = medians[policy_name] / singles[best_name]
    if args.format == "json":
        print(json.dumps({"model": args.model, "seq": args.seq, "policy": args.policy, "medians_ms": medians,
                          "best_single": best_name, "policy_over_best": ratio}, indent=2))
        return
    print(f"{args.model} at seq {args.seq}, {args.threads} threads, median of {args.rounds} rounds (round-robin)")
    for line in chosen:
        print("  chosen:" + line)
    for name, value in sorted(medians.items(), key=lambda item: item[1]):
        print(f"  {name:28s} {value:10.1f} ms   {value / singles[best_name]:.2f}x the best single variant")
    verdict = "within" if ratio <= 1.15 else "NOT within"
    print(f"policy / best single ({best_name}): {ratio:.3f} -> {verdict} 15%")


if __name__ == "__main__":
    main()
