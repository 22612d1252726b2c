#!/usr/bin/env python3
"""ONNX Runtime on attnc's ONNX output next to ONNX Runtime on the original model, same run.

Optional: needs python3 with numpy, onnx and onnxruntime. Converts the model with
`attnc convert --to onnx` and each --option set (default `--policy fastest --seq-len N`), then
times ONNX Runtime (default graph optimizations, --threads intra-op threads) on the original
and on each written file, alternating over --rounds so that load from other work on a shared
machine hits both sides of each ratio; prints the median latency per file, the median ratio
(original / written: the speedup) with its range over rounds, and the written file's output
error against the original's (the variants change the outputs).

  python3 scripts/bench_onnx_output.py --attnc .build/release/attnc \\
      --model ../shared/models/gpt2_mini_dynamo/model.onnx --seq 8192 --rounds 3
"""
import argparse, os, subprocess, sys, tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import make_feeds, ort_latency, ort_session, relative_error  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    parser.add_argument("--attnc", default=os.path.join(root, ".build", "release", "attnc"))
    parser.add_argument("--model", required=True)
    parser.add_argument("--seq", type=int, default=8192)
    parser.add_argument("--options", action="append", default=None,
                        help="convert options for one written file (quoted; repeatable); default '--policy fastest --seq-len N'")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    option_sets = args.options or ["--policy fastest --seq-len %d" % args.seq]

    folder = tempfile.mkdtemp(prefix="attnc-onnx-bench-")
    written = []
    for index, options in enumerate(option_sets):
        path = os.path.join(folder, "written_%d.onnx" % index)
        command = [args.attnc, "convert", args.model, "--to", "onnx", "-o", path, "--force"] + options.split()
        result = subprocess.run(command, capture_output=True, text=True)
        if result.returncode != 0:
            sys.exit("attnc convert failed: %s\n%s" % (" ".join(command), result.stderr))
        chosen = [line.strip() for line in result.stdout.splitlines() if line.strip()[:1].isdigit()]
        print("$ %s\n  %s" % (" ".join(command), "\n  ".join(chosen)))
        written.append((options, path))

    rng = np.random.default_rng(0)
    feeds = make_feeds(args.model, args.seq, rng)
    original = ort_session(args.model, feeds, args.threads)
    sessions = [(options, ort_session(path, feeds, args.threads)) for options, path in written]
    reference = original.run(None, feeds)
    errors = [max(relative_error(a, e) for a, e in zip(s.run(None, feeds), reference) if np.issubdtype(e.dtype, np.floating))
              for _, s in sessions]

    times = {"original": []}
    for options, _ in sessions:
        times[options] = []
    for _ in range(args.rounds):
        times["original"].append(ort_latency(original, feeds, args.repeat))
        for options, session in sessions:
            times[options].append(ort_latency(session, feeds, args.repeat))

    print("\nONNX Runtime %s, %d threads, %s at %d tokens, %d rounds of %d runs (median ms per round, alternating)"
          % (__import__("onnxruntime").__version__, args.threads, args.model, args.seq, args.rounds, args.repeat))
    print("%-44s %10s %10s %18s %12s" % ("file", "median ms", "min ms", "speedup (range)", "output err"))
    base = np.array(times["original"])
    print("%-44s %10.1f %10.1f %18s %12s" % ("original", np.median(base), base.min(), "1.00", "-"))
    for (options, _), error in zip(sessions, errors):
        t = np.array(times[options])
        ratios = base / t
        print("%-44s %10.1f %10.1f %18s %12.3g" % (
            "--to onnx " + options, np.median(t), t.min(),
            "%.2f (%.2f-%.2f)" % (np.median(ratios), ratios.min(), ratios.max()), error))


if __name__ == "__main__":
    main()
