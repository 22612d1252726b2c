#!/usr/bin/env python3
"""Exact attention in float32 against bfloat16 products (`softmax:prec=bf16`) end to end on a
real image model, with ONNX Runtime and OpenVINO's default (bfloat16 on this CPU) beside them.

Also `all bf16`: bf16 attention with bf16 linear layers (`--linear-precision bf16`), which
`balanced` picks by default where they fit the budget. One photograph (--calibrate, an ONNX
test_data_set folder) calibrates `--policy balanced`,
another (--check) is held out: every output error is measured on it against ONNX Runtime
(float32). Plans: `--policy exact`, `--variant softmax:prec=bf16`, and `--policy balanced
--max-output-error E --calibration (the calibrating photograph)`. Each round times every runtime
once (`attnc run --repeat R --stats` medians; ONNX Runtime and OpenVINO the median of R runs),
alternating; the table gives medians over rounds and the range of the per-round ratios to the
exact plan.

    python3 scripts/real_photos.py /tmp/attnc-real --size 896 --photo astronaut --photo coffee
    python3 scripts/bench_precision.py --attnc .build/release/attnc \\
        --model /tmp/attnc-real/vit_s_focus/model.onnx \\
        --calibrate /tmp/attnc-real/photos/astronaut_896/test_data_set_0 \\
        --check /tmp/attnc-real/photos/coffee_896/test_data_set_0 --rounds 3
"""
import argparse
import os
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import calibrated_comparison_arguments, compare_rounds, openvino_outputs, openvino_precision, openvino_request, ort_session, relative_error  # noqa: E402


def image(test_data):
    tensor = onnx.TensorProto()
    with open(os.path.join(test_data, "input_0.pb"), "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor).astype(np.float32)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    calibrated_comparison_arguments(parser, "photograph")
    parser.add_argument("--skip-balanced", action="store_true")
    args = parser.parse_args()

    name = onnx.load(args.model, load_external_data=False).graph.input[0].name
    folder = tempfile.mkdtemp(prefix="attnc-precision-")
    calibration = os.path.join(folder, "calibration", "sample_0")
    os.makedirs(calibration)
    np.save(os.path.join(calibration, f"{name}.npy"), image(args.calibrate))
    held = image(args.check)
    held_path = os.path.join(folder, "held.npy")
    np.save(held_path, held)
    shape = f"{name}=" + ",".join(str(d) for d in held.shape)

    plans = {"attnc exact": ["--policy", "exact"], "attnc softmax:prec=bf16": ["--variant", "softmax:prec=bf16"],
             "attnc all bf16": ["--variant", "softmax:prec=bf16", "--linear-precision", "bf16"]}
    if not args.skip_balanced:
        plans[f"attnc balanced ({args.max_output_error})"] = [
            "--policy", "balanced", "--max-output-error", str(args.max_output_error),
            "--calibration", os.path.dirname(calibration)]
    paths = {}
    for label, extra in plans.items():
        path = os.path.join(folder, f"{len(paths)}.attnc")
        start = time.perf_counter()
        converted = subprocess.run([args.attnc, "convert", args.model, "-o", path, "--force", "--input-shape", shape, *extra],
                                   capture_output=True, text=True)
        if converted.returncode != 0:
            sys.exit(converted.stderr)
        chosen = [line.strip() for line in converted.stdout.splitlines() if "prec=bf16" in line or "least predicted" in line]
        print(f"{label}: converted in {time.perf_counter() - start:.1f} s" + (f"; {len(chosen)} layer lines name bf16 or a choice" if chosen else ""), file=sys.stderr)
        for line in chosen[:14]:
            print(f"    {line}", file=sys.stderr)
        paths[label] = path

    feeds = {name: held}
    session = ort_session(args.model, feeds, args.threads)
    first = session.get_outputs()[0].name
    reference = session.run(None, feeds)
    compiled, request = openvino_request(args.model, feeds, args.threads)
    openvino_label = f"OpenVINO default ({openvino_precision(compiled)})"
    errors = {"ONNX Runtime": 0.0, openvino_label: relative_error(openvino_outputs(request, feeds)[0], reference[0])}
    peers = {"ONNX Runtime": lambda: session.run(None, feeds), openvino_label: lambda: request.infer(feeds)}
    held_out = os.path.basename(os.path.dirname(os.path.abspath(args.check)))
    compare_rounds(args.attnc, paths, {name: held_path}, peers, (first, reference[0]), errors, args.rounds, args.repeat,
                   args.threads, folder, held_out)


if __name__ == "__main__":
    main()
