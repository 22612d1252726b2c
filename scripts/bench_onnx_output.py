#!/usr/bin/env python3
"""ONNX Runtime on attnc's ONNX output next to ONNX Runtime on the original model, same run.

Optional: needs python3 with numpy, onnx and onnxruntime. Converts the model with
`attnc convert --to onnx` and each --option set (default `--policy fastest --seq-len N`), then
times ONNX Runtime (default graph optimizations, --threads intra-op threads) on the original
and on each written file, alternating over --rounds so that load from other work on a shared
machine hits both sides of each ratio; prints the median latency per file, the median ratio
(original / written: the speedup) with its range over rounds, and the written file's output
error against the original's (the variants and token merging change the outputs).
--check-plan also converts each option set to an attnc plan, runs it once on the same inputs
and prints the written file's error against it (ONNX Runtime and attnc computing the same
rewrite: the same tokens merged, the same variants).

  python3 scripts/bench_onnx_output.py --attnc .build/release/attnc \\
      --model ../shared/models/gpt2_mini_dynamo/model.onnx --seq 8192 --rounds 3
  python3 scripts/bench_onnx_output.py --model ../shared/models/bert_mini_legacy/model.onnx \\
      --seq 4096 --options "--policy exact --token-merge 1024" --rounds 5 --check-plan
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
    parser.add_argument("--check-plan", action="store_true",
                        help="also run attnc's plan of each option set once and print the written file's error against it")
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

    plan_errors = [plan_error(args, options, folder, feeds, session) if args.check_plan else None for options, session in sessions]

    times = {"original": []}
    for options, _ in sessions:
        times[options] = []
    for _ in range(args.rounds):
        times["original"].append(ort_latency(original, feeds, args.repeat))
        for options, session in sessions:
            times[options].append(ort_latency(session, feeds, args.repeat))

    print("\nONNX Runtime %s, %d threads, %s at %d tokens, %d rounds of %d runs (median ms per round, alternating)"
          % (__import__("onnxruntime").__version__, args.threads, args.model, args.seq, args.rounds, args.repeat))
    print("%-44s %10s %10s %18s %12s %12s" % ("file", "median ms", "min ms", "speedup (range)", "output err", "vs plan"))
    base = np.array(times["original"])
    print("%-44s %10.1f %10.1f %18s %12s %12s" % ("original", np.median(base), base.min(), "1.00", "-", "-"))
    for (options, _), error, against_plan in zip(sessions, errors, plan_errors):
        t = np.array(times[options])
        ratios = base / t
        print("%-44s %10.1f %10.1f %18s %12.3g %12s" % (
            "--to onnx " + options, np.median(t), t.min(),
            "%.2f (%.2f-%.2f)" % (np.median(ratios), ratios.min(), ratios.max()), error,
            "-" if against_plan is None else "%.3g" % against_plan))


def plan_error(args, options, folder, feeds, session):
    """The written file's largest output error against attnc's plan of the same options."""
    plan = os.path.join(folder, "check.attnc")
    command = [args.attnc, "convert", args.model, "-o", plan, "--force", "--linear-precision", "f32"] + options.split()
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit("attnc convert failed: %s\n%s" % (" ".join(command), result.stderr))
    with tempfile.TemporaryDirectory() as data:
        names = [port.name for port in session.get_inputs()]
        from onnx import numpy_helper
        for index, name in enumerate(names):
            with open(os.path.join(data, "input_%d.pb" % index), "wb") as f:
                f.write(numpy_helper.from_array(feeds[name], name).SerializeToString())
        outputs = session.run(None, feeds)
        for index, value in enumerate(outputs):
            with open(os.path.join(data, "output_%d.pb" % index), "wb") as f:
                f.write(numpy_helper.from_array(value, session.get_outputs()[index].name).SerializeToString())
        run = subprocess.run([args.attnc, "run", plan, "--test-data", data, "--max-relative-error", "1"], capture_output=True, text=True)
    errors = [float(x) for x in __import__("re").findall(r"relative error ([0-9.eE+-]+)", run.stdout + run.stderr)]
    if not errors:
        sys.exit("attnc run printed no error:\n%s\n%s" % (run.stdout, run.stderr))
    return max(errors)


if __name__ == "__main__":
    main()
