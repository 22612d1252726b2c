#!/usr/bin/env python3
"""Exact attention in float32 against bfloat16 products (`softmax:prec=bf16`), int8 Q·Kᵀ
(`softmax:prec=int8`) and 8-bit P·V (`softmax:prec=int8pv`) end to end on a real model, with ONNX
Runtime and OpenVINO's default (bfloat16 on this CPU) beside them.

Also `all bf16`: bf16 attention with bf16 linear layers (`--linear-precision bf16`), which
`balanced` picks by default where they fit the budget. One input (--calibrate, an ONNX
test_data_set folder: input_0.pb, input_1.pb, … for the graph's inputs in order, a photograph or
a sentence's ids and mask) calibrates `--policy balanced`, another (--check) is held out: every
output error is measured on it against ONNX Runtime (float32). Plans: `--policy exact`, `--variant softmax:prec=bf16`, and `--policy balanced
--max-output-error E --calibration (the calibrating photograph)`; `--variant softmax:prec=int8`
and `--variant softmax:prec=int8pv` (P·V in 8 bits too; `--variant` plans take the default
`--linear-precision auto`). Each round times every runtime
once, each after one untimed run (`attnc run --warmup 1 --repeat R --stats` medians; ONNX
Runtime and OpenVINO the median of R runs after a warm-up; medians of an even count average the
middle two, for every runtime alike),
alternating; the table gives medians over rounds and the medians and ranges of the per-round
ratios to the exact plan and to OpenVINO. `--only TEXT` times only the attnc plans whose label
holds TEXT (and the exact plan), for more rounds of the rows a claim rests on.

On a loaded machine wall time measures the other jobs as much as the runtimes: `--cpu-time`
times CPU seconds instead (run it with `--threads 1`): per attnc plan the CPU its `attnc run`
child used over `--repeat R+1` calls less a 1-call run (loading the plan), over R; ONNX Runtime
and OpenVINO the process CPU time of R calls after a warm-up, over R.

    python3 scripts/real_photos.py /tmp/attnc-real --size 896 --photo astronaut --photo coffee
    python3 scripts/bench_precision.py --attnc .build/release/attnc \\
        --model /tmp/attnc-real/vit_s_focus/model.onnx \\
        --calibrate /tmp/attnc-real/photos/astronaut_896/test_data_set_0 \\
        --check /tmp/attnc-real/photos/coffee_896/test_data_set_0 --rounds 3
"""
import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import onnx
from onnx import numpy_helper

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import attnc_run_outputs, openvino_outputs, openvino_precision, openvino_request, ort_session, relative_error, timed  # noqa: E402


def test_inputs(test_data, names):
    """The folder's input_i.pb as {graph input i's name: array} (floats as float32)."""
    inputs = {}
    for index, name in enumerate(names):
        path = os.path.join(test_data, f"input_{index}.pb")
        if not os.path.exists(path):
            sys.exit(f"{test_data}: no input_{index}.pb for the model's input '{name}'")
        tensor = onnx.TensorProto()
        with open(path, "rb") as f:
            tensor.ParseFromString(f.read())
        value = numpy_helper.to_array(tensor)
        inputs[name] = value.astype(np.float32) if value.dtype.kind == "f" else value
    return inputs


def children_cpu():
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def attnc_cpu_ms(attnc, plan, paths, repeat, threads, out):
    """CPU milliseconds per call of `attnc run` on inputs {name: .npy path}: (R + 1 calls) −
    (1 call), over R."""
    spent = []
    for calls in (repeat + 1, 1):
        before = children_cpu()
        attnc_run_outputs(attnc, plan, paths, calls, threads, out)
        spent.append(children_cpu() - before)
    return (spent[0] - spent[1]) / repeat * 1e3


def process_cpu_ms(run, repeat):
    run()
    before = time.process_time()
    for _ in range(repeat):
        run()
    return (time.process_time() - before) / repeat * 1e3


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--model", required=True)
    parser.add_argument("--calibrate", required=True, help="test_data_set folder of the calibrating input")
    parser.add_argument("--check", required=True, help="test_data_set folder of the held-out input")
    parser.add_argument("--max-output-error", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--skip-balanced", action="store_true")
    parser.add_argument("--only", action="append", default=[], metavar="TEXT",
                        help="time only the attnc plans whose label contains TEXT (repeatable; the exact plan always runs)")
    parser.add_argument("--cpu-time", action="store_true", help="time CPU seconds per call instead of wall time")
    args = parser.parse_args()

    model = onnx.load(args.model, load_external_data=False)
    initializers = {i.name for i in model.graph.initializer}
    names = [i.name for i in model.graph.input if i.name not in initializers]
    folder = tempfile.mkdtemp(prefix="attnc-precision-")
    calibration = os.path.join(folder, "calibration", "sample_0")
    os.makedirs(calibration)
    for name, value in test_inputs(args.calibrate, names).items():
        np.save(os.path.join(calibration, f"{name}.npy"), value)
    feeds = test_inputs(args.check, names)
    held_paths = {}
    for name, value in feeds.items():
        held_paths[name] = os.path.join(folder, f"held_{len(held_paths)}.npy")
        np.save(held_paths[name], value)
    shapes = [a for name, value in feeds.items() for a in ("--input-shape", f"{name}=" + ",".join(map(str, value.shape)))]

    plans = {"attnc exact": ["--policy", "exact"], "attnc softmax:prec=bf16": ["--variant", "softmax:prec=bf16"],
             "attnc all bf16": ["--variant", "softmax:prec=bf16", "--linear-precision", "bf16"],
             "attnc softmax:prec=int8": ["--variant", "softmax:prec=int8"],
             "attnc softmax:prec=int8pv": ["--variant", "softmax:prec=int8pv"]}
    if not args.skip_balanced:
        plans[f"attnc balanced ({args.max_output_error})"] = [
            "--policy", "balanced", "--max-output-error", str(args.max_output_error),
            "--calibration", os.path.dirname(calibration)]
    if args.only:
        plans = {label: extra for label, extra in plans.items() if label == "attnc exact" or any(t in label for t in args.only)}
    paths = {}
    for label, extra in plans.items():
        path = os.path.join(folder, f"{len(paths)}.attnc")
        start = time.perf_counter()
        converted = subprocess.run([args.attnc, "convert", args.model, "-o", path, "--force", *shapes, *extra],
                                   capture_output=True, text=True)
        if converted.returncode != 0:
            sys.exit(converted.stderr)
        chosen = [line.strip() for line in converted.stdout.splitlines() if "prec=" in line or "least predicted" in line]
        print(f"{label}: converted in {time.perf_counter() - start:.1f} s" + (f"; {len(chosen)} layer lines name a precision or a choice" if chosen else ""), file=sys.stderr)
        for line in chosen[:14]:
            print(f"    {line}", file=sys.stderr)
        paths[label] = path

    session = ort_session(args.model, feeds, args.threads)
    first = session.get_outputs()[0].name
    reference = session.run(None, feeds)
    compiled, request = openvino_request(args.model, feeds, args.threads)
    openvino_label = f"OpenVINO default ({openvino_precision(compiled)})"
    errors = {"ONNX Runtime": 0.0, openvino_label: relative_error(openvino_outputs(request, feeds)[0], reference[0])}
    times = {label: [] for label in list(paths) + ["ONNX Runtime", openvino_label]}
    for round_index in range(args.rounds):
        for label, path in paths.items():
            out = os.path.join(folder, f"out{len(times[label])}_{abs(hash(label))}")
            os.makedirs(out, exist_ok=True)
            ms, outputs = attnc_run_outputs(args.attnc, path, held_paths, args.repeat, args.threads, out)
            if args.cpu_time:
                ms = attnc_cpu_ms(args.attnc, path, held_paths, args.repeat, args.threads, out)
            times[label].append(ms)
            errors[label] = relative_error(outputs[first], reference[0])
        measure = process_cpu_ms if args.cpu_time else timed
        times["ONNX Runtime"].append(measure(lambda: session.run(None, feeds), args.repeat))
        times[openvino_label].append(measure(lambda: request.infer(feeds), args.repeat))
        print(f"round {round_index + 1}: " + ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in times.items()), file=sys.stderr)

    exact = times["attnc exact"]
    unit = "median CPU ms per call" if args.cpu_time else "median ms"
    peer = times[openvino_label]
    print(f"| runtime | {unit} | vs attnc exact (range) | vs OpenVINO (range) | output error vs ONNX Runtime (held-out {os.path.basename(os.path.dirname(os.path.abspath(args.check)))}) |")
    print("|---|---:|---:|---:|---:|")
    for label, values in times.items():
        ratios = [v / e for v, e in zip(values, exact)]
        against = [v / o for v, o in zip(values, peer)]
        print(f"| {label} | {statistics.median(values):.0f} | {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) "
              f"| {statistics.median(against):.2f} ({min(against):.2f}–{max(against):.2f}) | {errors[label]:.2e} |")


if __name__ == "__main__":
    main()
