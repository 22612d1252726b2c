"""Shared by the `convert --to onnx` tests: the built binary, the models, conversion, feeds read
from a test_data_set, ONNX Runtime runs and the relative error. Importing it skips the importing
test module when onnx or onnxruntime is absent."""

import glob
import os
import subprocess
import tempfile

import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BINARY = os.path.join(ROOT, ".build", "release", "attnc")
SAMPLE = os.path.join(ROOT, "samples", "bert_tiny", "model.onnx")
SHARED = os.environ.get("ATTNC_SHARED", os.path.join(ROOT, "..", "shared"))
SHARED_MODELS = sorted(glob.glob(os.path.join(SHARED, "models", "*", "model.onnx")))
MODELS = [SAMPLE] + SHARED_MODELS
IDS = ["sample_bert_tiny"] + [os.path.basename(os.path.dirname(m)) for m in SHARED_MODELS]

onnx = pytest.importorskip("onnx", reason="onnx is not installed: the written ONNX files are not checked")
ort = pytest.importorskip("onnxruntime", reason="onnxruntime is not installed: the written ONNX files are not run")
from onnx import numpy_helper  # noqa: E402

needs_binary = pytest.mark.skipif(not os.path.exists(BINARY), reason="%s is not built (swift build -c release)" % BINARY)


def convert(model, output, *options):
    return subprocess.run([BINARY, "convert", model, "-o", output, "--force"] + list(options), capture_output=True, text=True)


def converted(model, output, *options):
    result = convert(model, output, "--to", "onnx", *options)
    assert result.returncode == 0, result.stderr
    return output


def read_pb(path):
    tensor = onnx.TensorProto()
    with open(path, "rb") as f:
        tensor.ParseFromString(f.read())
    return numpy_helper.to_array(tensor)


def inputs_of(model, data_set=None):
    """The feeds of `data_set` (default: the model's first test_data_set), by the model's input order."""
    data_set = data_set or sorted(glob.glob(os.path.join(os.path.dirname(model), "test_data_set_*")))[0]
    graph_inputs = onnx.load(model, load_external_data=False).graph
    initializers = {i.name for i in graph_inputs.initializer}
    names = [i.name for i in graph_inputs.input if i.name not in initializers]
    return {name: read_pb(os.path.join(data_set, "input_%d.pb" % index)) for index, name in enumerate(names)
            if os.path.exists(os.path.join(data_set, "input_%d.pb" % index))}


def with_float_outputs(path):
    """`path`, or a copy whose bfloat16 outputs pass through a Cast to float32 (exact): ONNX
    Runtime's numpy binding has no bfloat16."""
    model = onnx.load(path)
    narrow = [o for o in model.graph.output if o.type.tensor_type.elem_type == onnx.TensorProto.BFLOAT16]
    if not narrow:
        return path
    for output in narrow:
        widened = output.name + "__float32"
        model.graph.node.append(onnx.helper.make_node("Cast", [output.name], [widened], to=onnx.TensorProto.FLOAT))
        output.name = widened
        output.type.tensor_type.elem_type = onnx.TensorProto.FLOAT
    copy = os.path.join(tempfile.mkdtemp(prefix="attnc-float-outputs-"), os.path.basename(path))
    onnx.save(model, copy)
    return copy


def run_onnx(path, feeds):
    path = with_float_outputs(path)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])
    return session.run(None, {port.name: feeds[port.name] for port in session.get_inputs()})


def run_plan(plan, feeds):
    import attnc

    session = attnc.InferenceSession(plan)
    return session.run(None, {port.name: feeds[port.name] for port in session.get_inputs()})


def relative_error(actual, expected):
    actual, expected = np.asarray(actual, np.float64), np.asarray(expected, np.float64)
    return float(np.linalg.norm((actual - expected).ravel()) / max(np.linalg.norm(expected.ravel()), 1e-30))
