#!/usr/bin/env python3
"""Where sparse attention pays: exact attention against the calibrated policy (which weighs
skip-softmax and block-sparse attention per layer and head beside bfloat16 products) and
against forced sparse settings, end to end on a real model, calibrated on one input and checked
on another, ONNX Runtime beside them.

One test_data_set folder (--calibrate) calibrates `--policy balanced`; another (--check) is held
out: every output error is measured on it against ONNX Runtime (float32). Plans: `--policy
exact`, `--policy balanced --max-output-error E` (and with `--max-error E2` per layer when
given), and each `--variant` forced on every layer. Each round times every plan once
(`attnc run --repeat R --stats` medians) and ONNX Runtime, alternating; the table gives medians
over rounds and the range of the per-round ratios to the exact plan. The balanced plan's layer
lines (setting and density) are printed as `convert` wrote them.

    python3 scripts/export_causal_lm.py /tmp/attnc-lm --tokens 1024
    python3 scripts/bench_sparsity.py --model /tmp/attnc-lm/model.onnx \\
        --calibrate /tmp/attnc-lm/text_a/test_data_set_0 --check /tmp/attnc-lm/text_b/test_data_set_0 \\
        --variant softmax:skip=9 --variant blocksparse:tau=0.95
"""
import argparse
import os
import re
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import calibrated_comparison_arguments, compare_rounds, ort_session  # noqa: E402


def inputs(model, test_data):
    """The test_data_set's input_N.pb as {graph input name: array}."""
    graph = onnx.load(model, load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    names = [v.name for v in graph.input if v.name not in initializers]
    feeds = {}
    for index, name in enumerate(names):
        tensor = onnx.TensorProto()
        with open(os.path.join(test_data, f"input_{index}.pb"), "rb") as f:
            tensor.ParseFromString(f.read())
        feeds[name] = numpy_helper.to_array(tensor)
    return feeds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    calibrated_comparison_arguments(parser, "input")
    parser.add_argument("--max-error", type=float, help="--max-error per layer for balanced (default attnc's)")
    parser.add_argument("--variant", action="append", default=[], help="a setting forced on every layer (repeatable)")
    args = parser.parse_args()

    folder = tempfile.mkdtemp(prefix="attnc-sparsity-")
    calibration = os.path.join(folder, "calibration", "sample_0")
    os.makedirs(calibration)
    for name, array in inputs(args.model, args.calibrate).items():
        np.save(os.path.join(calibration, f"{name}.npy"), array)
    held = inputs(args.model, args.check)
    paths = {}
    for name, array in held.items():
        paths[name] = os.path.join(folder, f"held_{name}.npy")
        np.save(paths[name], array)
    shapes = [a for name, array in held.items() for a in ("--input-shape", f"{name}=" + ",".join(str(d) for d in array.shape))]

    balanced = ["--policy", "balanced", "--max-output-error", str(args.max_output_error), "--calibration", os.path.dirname(calibration)]
    if args.max_error is not None:
        balanced += ["--max-error", str(args.max_error)]
    plans = {"attnc exact": ["--policy", "exact"], f"attnc balanced ({args.max_output_error})": balanced}
    for variant in args.variant:
        plans[f"attnc {variant}"] = ["--variant", variant]
    files = {}
    for label, extra in plans.items():
        path = os.path.join(folder, f"{len(files)}.attnc")
        start = time.perf_counter()
        converted = subprocess.run([args.attnc, "convert", args.model, "-o", path, "--force", *shapes, *extra],
                                   capture_output=True, text=True)
        if converted.returncode != 0:
            sys.exit(converted.stderr)
        print(f"{label}: converted in {time.perf_counter() - start:.1f} s", file=sys.stderr)
        if "balanced" in label:
            for line in converted.stdout.splitlines():
                if re.match(r"\s+\d+\s", line) or "end-to-end" in line or "linear layers" in line:
                    print(f"    {line.rstrip()}", file=sys.stderr)
        files[label] = path

    session = ort_session(args.model, held, args.threads)
    reference = session.run(None, held)
    first = session.get_outputs()[0].name
    errors = {"ONNX Runtime": 0.0}
    held_out = os.path.basename(os.path.dirname(os.path.abspath(args.check)))
    compare_rounds(args.attnc, files, paths, {"ONNX Runtime": lambda: session.run(None, held)}, (first, reference[0]), errors,
                   args.rounds, args.repeat, args.threads, folder, held_out)


if __name__ == "__main__":
    main()
