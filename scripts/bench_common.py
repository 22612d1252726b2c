"""What the benchmark scripts share: reading a model's inputs, making feeds ONNX Runtime, OpenVINO
and `attnc bench` agree on, and timing each of them.

Shapes follow `attnc bench`'s binding rule: a symbol whose name contains "batch" is 1 (or
--batch), every other symbol is the length `n`, and `overrides` bind named symbols (a KV-cache
step: seq=1, past=n-1, total=n). Token ids are drawn below the vocabulary read from the model's
own embedding table, masks are all ones, position ids count up, float inputs are seeded normals.
"""
import json
import subprocess
import time

import numpy as np

ONNX_TO_NUMPY = {1: np.float32, 6: np.int32, 7: np.int64, 9: np.bool_, 10: np.float16, 11: np.float64}


def graph_inputs(model):
    """[(name, onnx elem type, dims with symbols as strings)] of the graph inputs that are not initializers."""
    import onnx
    graph = onnx.load(model, load_external_data=False).graph
    initializers = {t.name for t in graph.initializer}
    result = []
    for value in graph.input:
        if value.name in initializers:
            continue
        tensor = value.type.tensor_type
        dims = [d.dim_param if d.dim_param else (d.dim_value if d.HasField("dim_value") else "?") for d in tensor.shape.dim]
        result.append((value.name, tensor.elem_type, dims))
    return result


def vocabulary(model, input_name):
    """Rows of the embedding table that `input_name` indexes (through Cast/Reshape/Unsqueeze/...),
    or None when no table is found. Drawing ids beyond it makes ONNX Runtime fail."""
    import onnx
    graph = onnx.load(model, load_external_data=False).graph
    shapes = {t.name: list(t.dims) for t in graph.initializer}
    for node in graph.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].t.dims:
            shapes[node.output[0]] = list(node.attribute[0].t.dims)
    passthrough = {"Cast", "Reshape", "Unsqueeze", "Squeeze", "Flatten", "Identity", "Expand"}
    frontier, seen, rows = [input_name], set(), []
    while frontier:
        value = frontier.pop()
        if value in seen:
            continue
        seen.add(value)
        for node in graph.node:
            if value not in node.input:
                continue
            if node.op_type == "Gather" and len(node.input) > 1 and node.input[1] == value:
                table = shapes.get(node.input[0])
                if table and len(table) == 2:
                    rows.append(table[0])
            elif node.op_type == "EmbedLayerNormalization" and node.input[0] == value:
                table = shapes.get(node.input[2])
                if table:
                    rows.append(table[0])
            elif node.op_type in passthrough and node.input[0] == value:
                frontier.extend(node.output)
    return min(rows) if rows else None


def bind(dims, n, batch=1, overrides=None):
    """Concrete dims by `attnc bench`'s rule."""
    overrides = overrides or {}
    result = []
    for d in dims:
        if isinstance(d, int):
            result.append(d)
        elif d in overrides:
            result.append(overrides[d])
        elif "batch" in d:
            result.append(batch)
        else:
            result.append(n)
    return result


def make_feeds(model, n, rng, batch=1, overrides=None):
    """Inputs for `model` at length `n` (see the module comment)."""
    feeds = {}
    for name, elem, dims in graph_inputs(model):
        shape = bind(dims, n, batch, overrides)
        dtype = ONNX_TO_NUMPY.get(elem, np.float32)
        lower = name.lower()
        if np.issubdtype(dtype, np.floating):
            feeds[name] = rng.standard_normal(shape).astype(dtype)
        elif "mask" in lower:
            feeds[name] = np.ones(shape, dtype=dtype)
        elif "position" in lower:
            feeds[name] = np.broadcast_to(np.arange(shape[-1], dtype=dtype), shape).copy()
        elif "token_type" in lower:
            feeds[name] = np.zeros(shape, dtype=dtype)
        else:
            vocab = vocabulary(model, name) or 100
            feeds[name] = rng.integers(0, vocab, size=shape, dtype=dtype)
    return feeds


def timed(run, repeat):
    """Median milliseconds of `repeat` calls of `run()`."""
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times))


def ort_session(model, feeds, threads):
    """An ONNX Runtime session (default graph optimizations), warmed up with one run."""
    import onnxruntime as ort
    options = ort.SessionOptions()
    options.intra_op_num_threads = threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    session.run(None, feeds)
    return session


def ort_latency(session, feeds, repeat):
    return timed(lambda: session.run(None, feeds), repeat)


def openvino_request(model, feeds, threads, precision=None):
    """An OpenVINO CPU infer request on the model reshaped to the feeds' static shapes, warmed up.
    precision None keeps OpenVINO's default (bf16 on CPUs with AMX/AVX-512 BF16), "f32" asks for
    float32 (INFERENCE_PRECISION_HINT)."""
    import openvino as ov
    core = ov.Core()
    network = core.read_model(model)
    network.reshape({name: list(value.shape) for name, value in feeds.items()})
    config = {"INFERENCE_NUM_THREADS": threads, "PERFORMANCE_HINT": "LATENCY", "NUM_STREAMS": 1}
    if precision:
        config["INFERENCE_PRECISION_HINT"] = precision
    compiled = core.compile_model(network, "CPU", config)
    request = compiled.create_infer_request()
    request.infer(feeds)
    return compiled, request


def openvino_precision(compiled):
    try:
        value = compiled.get_property("INFERENCE_PRECISION_HINT")
        return value.get_type_name() if hasattr(value, "get_type_name") else str(value)
    except Exception:
        return "?"


def openvino_latency(request, feeds, repeat):
    return timed(lambda: request.infer(feeds), repeat)


def openvino_outputs(request, feeds):
    result = request.infer(feeds)
    return [np.asarray(result[o]) for o in request.model_outputs]


def relative_error(actual, expected):
    """‖actual − expected‖ / ‖expected‖ (Frobenius), over float outputs."""
    a = np.asarray(actual, dtype=np.float64)
    e = np.asarray(expected, dtype=np.float64)
    return float(np.linalg.norm(a - e) / max(np.linalg.norm(e), 1e-30))


def attnc_convert(attnc, model, plan, extra=("--policy", "exact")):
    subprocess.run([attnc, "convert", model, "-o", plan, "--force", *extra], check=True, capture_output=True)


def add_zoo_arguments(parser, root):
    """The options the zoo-style benchmarks share: the attnc binary, where the shared and real
    models are, which to keep, threads, repeats, rounds and the time budget of a measurement."""
    import os
    parser.add_argument("--attnc", default=os.path.join(root, ".build", "release", "attnc"))
    parser.add_argument("--shared", default=os.environ.get("ATTNC_SHARED", os.path.join(root, "..", "shared")))
    parser.add_argument("--real", default="/tmp/attnc-real", help="real-models.sh's output folder")
    parser.add_argument("--models", default="", help="comma-separated substrings of model names to keep")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--budget", type=float, default=4000,
                        help="milliseconds a measurement aims at: rows slower than budget/repeat get fewer repeats (at least 2)")


def attnc_outputs(attnc, plan, feeds, folder, threads=2):
    """The plan's outputs on `feeds` (`attnc run --input name=FILE.npy --output-dir FOLDER`), as
    {output name: array}."""
    import os
    os.makedirs(folder, exist_ok=True)
    command = [attnc, "run", plan, "--threads", str(threads), "--output-dir", folder]
    for name, value in feeds.items():
        path = os.path.join(folder, f"input_{len(command)}.npy")
        np.save(path, value)
        command += ["--input", f"{name}={path}"]
    subprocess.run(command, check=True, capture_output=True)
    return {f[:-4]: np.load(os.path.join(folder, f)) for f in os.listdir(folder) if f.endswith(".npy") and not f.startswith("input_")}


def attnc_bench(attnc, plan, n, threads, repeat, dims=None):
    """`attnc bench --format json` on the plan at length n: its result entry and the sgemm peak."""
    command = [attnc, "bench", plan, "--seq", str(n), "--threads", str(threads), "--repeat", str(repeat),
               "--format", "json"]
    for name, value in (dims or {}).items():
        command += ["--dim", f"{name}={value}"]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return report["results"][0], report["sgemm_peak_gflops"]


def attnc_run_outputs(attnc, plan, paths, repeat, threads, out):
    """`attnc run --stats` of `plan` on inputs {name: .npy path}: (median ms, {output name: array}
    from --output-dir `out`). One untimed run first (`--warmup 1`), as the peers are warmed up:
    a process's first run also allocates its buffers and first touches the weights."""
    import os
    import re
    import sys
    arguments = [a for name, path in paths.items() for a in ("--input", f"{name}={path}")]
    result = subprocess.run([attnc, "run", plan, *arguments, "--warmup", "1", "--repeat", str(repeat), "--stats",
                             "--threads", str(threads), "--output-dir", out], capture_output=True, text=True, check=True)
    match = re.search(r"median\D*([0-9.]+) ms", result.stdout + result.stderr)
    if not match:
        sys.exit(f"no median in attnc run --stats output:\n{result.stdout}{result.stderr}")
    return float(match.group(1)), {f[:-4]: np.load(os.path.join(out, f)) for f in os.listdir(out) if f.endswith(".npy")}


def compare_rounds(attnc, plans, paths, peers, reference, errors, rounds, repeat, threads, folder, held):
    """Times attnc `plans` {label: plan path} on inputs {name: .npy path} and `peers` {label:
    callable} alternately for `rounds` rounds, each plan's output error (its output named
    `reference[0]`, against `reference[1]`) into `errors`; prints the markdown table of medians
    and per-round ratios to the first plan, with `held` naming the held-out input."""
    import os
    import statistics
    import sys
    name, expected = reference
    times = {label: [] for label in list(plans) + list(peers)}
    for round_index in range(rounds):
        for label, path in plans.items():
            out = os.path.join(folder, f"out{len(times[label])}_{abs(hash(label))}")
            os.makedirs(out, exist_ok=True)
            ms, outputs = attnc_run_outputs(attnc, path, paths, repeat, threads, out)
            times[label].append(ms)
            errors[label] = relative_error(outputs[name], expected)
        for label, run in peers.items():
            times[label].append(timed(run, repeat))
        print(f"round {round_index + 1}: " + ", ".join(f"{k} {v[-1]:.0f} ms" for k, v in times.items()), file=sys.stderr)
    baseline = next(iter(plans))
    print(f"| runtime | median ms | vs {baseline} (range) | output error vs ONNX Runtime (held-out {held}) |")
    print("|---|---:|---:|---:|")
    for label, values in times.items():
        ratios = [v / e for v, e in zip(values, times[baseline])]
        print(f"| {label} | {statistics.median(values):.0f} | {statistics.median(ratios):.2f} ({min(ratios):.2f}–{max(ratios):.2f}) | {errors[label]:.2e} |")


def calibrated_comparison_arguments(parser, what):
    """The options of a calibrated-against-held-out comparison (bench_precision, bench_sparsity):
    the attnc binary, the model, the calibrating and held-out test_data_set folders (of `what`),
    the budget, rounds, repeats and threads."""
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--model", required=True)
    parser.add_argument("--calibrate", required=True, help=f"test_data_set folder of the calibrating {what}")
    parser.add_argument("--check", required=True, help=f"test_data_set folder of the held-out {what}")
    parser.add_argument("--max-output-error", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
