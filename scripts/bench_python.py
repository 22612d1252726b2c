"""The Python API's per-call cost: `attnc.InferenceSession.run` in a loop against `attnc run
--repeat` (the CLI's median per call, the same plan and inputs) and ONNX Runtime's
`InferenceSession.run` on the same numpy inputs, alternating in rounds.

    PYTHONPATH=python python3 scripts/bench_python.py                      # bert_mini_legacy, 128 tokens, 2 threads
    PYTHONPATH=python python3 scripts/bench_python.py --n 512 --rounds 7 --repeat 30

The plan is converted with `--policy exact` (what every attention of the model runs at 128 tokens
under balanced too). Inputs follow bench_common.make_feeds (token ids below the vocabulary,
masks all ones). Prints each round's medians and the per-round ratios' median and range.
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import make_feeds, ort_session, timed  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def cli_median(attnc, plan, files, threads, repeat):
    """`attnc run --repeat --stats`: the median wall time per call it prints."""
    command = [attnc, "run", plan, "--repeat", str(repeat), "--stats", "--threads", str(threads)]
    for name, path in files.items():
        command += ["--input", "%s=%s" % (name, path)]
    text = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return float(re.search(r"wall time: median ([0-9.]+) ms", text).group(1))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=os.path.join(ROOT, "..", "shared", "models", "bert_mini_legacy", "model.onnx"))
    parser.add_argument("--n", type=int, default=128)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--repeat", type=int, default=50)
    parser.add_argument("--attnc", default=os.path.join(ROOT, ".build", "release", "attnc"))
    args = parser.parse_args()

    import attnc

    work = tempfile.mkdtemp(prefix="attnc-bench-python-")
    plan = os.path.join(work, "model.attnc")
    attnc.convert(args.model, plan, policy="exact")
    feeds = make_feeds(args.model, args.n, np.random.default_rng(0))
    files = {}
    for name, value in feeds.items():
        files[name] = os.path.join(work, name + ".npy")
        np.save(files[name], value)

    session = attnc.InferenceSession(plan, threads=args.threads)
    ours = {i.name: feeds[i.name] for i in session.get_inputs()}
    reference = ort_session(args.model, feeds, args.threads)
    got, expected = session.run(None, ours)[0], reference.run(None, feeds)[0]
    print("%s at %d tokens, %d threads; first output max abs difference to ONNX Runtime %.2e"
          % (os.path.relpath(args.model), args.n, args.threads, float(np.max(np.abs(got - expected)))))
    session.run(None, ours)

    rows = []
    for round_index in range(args.rounds):
        py = timed(lambda: session.run(None, ours), args.repeat)
        cli = cli_median(args.attnc, plan, files, args.threads, args.repeat)
        ort = timed(lambda: reference.run(None, feeds), args.repeat)
        rows.append((py, cli, ort))
        print("round %d: attnc Python %.3f ms, attnc run --repeat %.3f ms, ONNX Runtime %.3f ms" % (round_index + 1, py, cli, ort))
    over_cli = sorted(py / cli for py, cli, _ in rows)
    over_ort = sorted(py / ort for py, _, ort in rows)
    print("Python / attnc run: median %.3f (range %.3f-%.3f); Python / ONNX Runtime: median %.3f (range %.3f-%.3f)"
          % (over_cli[len(rows) // 2], over_cli[0], over_cli[-1], over_ort[len(rows) // 2], over_ort[0], over_ort[-1]))


if __name__ == "__main__":
    main()
