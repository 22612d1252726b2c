"""`attnc convert --to onnx`: the written file passes the onnx checker and runs in ONNX Runtime.

Exact attention (plain MatMul/Softmax at the model's opset, the standard Attention op at opset 23)
must match ONNX Runtime on the input model within rtol 1e-3 for every model of ../shared/models;
each variant written as an ai.attnc local function must match attnc's own plan of the same options
within 1e-4 relative (Frobenius) error. Drives the built `attnc` binary; skips with the reason when
it, onnx, onnxruntime or ../shared is absent."""

import hashlib
import json
import os
import re
import subprocess

import numpy as np
import pytest

import attnc
from onnx_output_support import (  # noqa: F401  (skips this module without onnx / onnxruntime)
    BINARY, IDS, MODELS, SAMPLE, SHARED, SHARED_MODELS, convert, converted, inputs_of, needs_binary, onnx, relative_error, run_onnx)

pytestmark = needs_binary


# MARK: - exact attention


@pytest.mark.parametrize("opset", [None, 23], ids=["model_opset", "opset23"])
@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_exact_onnx_matches_the_input_model(model, opset, tmp_path):
    options = ["--policy", "exact"] + ([] if opset is None else ["--target-opset", str(opset)])
    written = converted(model, str(tmp_path / "exact.onnx"), *options)
    onnx.checker.check_model(written, full_check=True)
    feeds = inputs_of(model)
    expected = run_onnx(model, feeds)
    actual = run_onnx(written, feeds)
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, "output %d" % index
        np.testing.assert_allclose(a, e, rtol=1e-3, atol=1e-5, err_msg="%s output %d" % (written, index))
    written_model = onnx.load(written, load_external_data=False)
    if opset is not None:
        assert {o.domain: o.version for o in written_model.opset_import}[""] == opset
        assert any(n.op_type == "Attention" for n in written_model.graph.node), "opset 23 writes the standard Attention op"
    assert not any(n.op_type in ("Softmax", "FusedAttention") for n in written_model.graph.node if opset is not None)


def test_metadata_records_the_conversion_and_keeps_the_models(tmp_path):
    model = SAMPLE
    source = onnx.load(model)
    source.metadata_props.add(key="owner", value="attnc tests")
    tagged = str(tmp_path / "tagged.onnx")
    onnx.save(source, tagged)
    written = converted(tagged, str(tmp_path / "out.onnx"), "--policy", "exact")
    metadata = {p.key: p.value for p in onnx.load(written).metadata_props}
    assert metadata["owner"] == "attnc tests"
    with open(tagged, "rb") as f:
        assert metadata["attnc.source_sha256"] == hashlib.sha256(f.read()).hexdigest()
    assert metadata["attnc.policy"] == "exact"
    layers = json.loads(metadata["attnc.layers"])
    assert [layer["variant"] for layer in layers] == ["softmax", "softmax"]


@pytest.mark.skipif(not SHARED_MODELS, reason="../shared/models is absent (set ATTNC_SHARED)")
def test_external_data_stays_external(tmp_path):
    model = os.path.join(SHARED, "models", "bert_tiny_external", "model.onnx")
    if not os.path.exists(model):
        pytest.skip("bert_tiny_external is absent")
    written = converted(model, str(tmp_path / "ext.onnx"), "--policy", "exact")
    assert os.path.exists(written + ".data")
    assert os.path.getsize(written) < 100_000, "the weights went to ext.onnx.data"
    onnx.checker.check_model(written)


# MARK: - variants


VARIANTS = ["performer:m=64", "fastmax:p=1", "fastmax:p=2", "linformer:k=8", "flurka-elu:k=8", "flurka-pool:k=8,m=32", "nystrom:m=8", "nystrom:m=64"]


@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("model", MODELS, ids=IDS)
def test_variant_function_matches_attncs_plan(model, variant, tmp_path):
    written = converted(model, str(tmp_path / "variant.onnx"), "--variant", variant)
    onnx.checker.check_model(written, full_check=True)
    plan = str(tmp_path / "variant.attnc")
    attnc.convert(model, plan, policy="exact", variant=variant, force=True)
    feeds = inputs_of(model)
    session = attnc.InferenceSession(plan)
    expected = session.run(None, {port.name: feeds[port.name] for port in session.get_inputs()})
    actual = run_onnx(written, feeds)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape
        if np.issubdtype(e.dtype, np.floating):
            error = relative_error(a.astype(np.float64), e.astype(np.float64))
            assert error <= 1e-4, "%s %s output %d: relative error %.3g against attnc's plan" % (model, variant, index, error)


def test_per_length_table_becomes_if_on_the_key_length(tmp_path):
    # balanced on a symbolic length plans a table by key length (from this machine's profile),
    # of settings with a standard form only; each branch of the written If runs its entry's variant.
    written = str(tmp_path / "auto.onnx")
    result = convert(SAMPLE, written, "--to", "onnx")
    assert result.returncode == 0, result.stderr
    table = re.search(r"by length: (.*)$", result.stdout, re.MULTILINE)
    if not table:
        pytest.skip("the cost model chose one variant for every length here: no table to write")
    entries = [re.match(r"(\d+)-(\d*):(\S+)", e).groups() for e in table.group(1).split()]
    assert len(entries) > 1, table.group(0)
    assert not any("prec=" in v or "skip=" in v for _, _, v in entries), "--to onnx chose a setting without an ONNX form"
    onnx.checker.check_model(written, full_check=True)
    assert any(n.op_type == "If" for n in onnx.load(written).graph.node)
    sessions = {}
    for low, high, variant in entries:
        lengths = {int(low), int(high)} if high else {int(low), int(low) + 1}
        if variant not in sessions:
            plan = str(tmp_path / f"entry{len(sessions)}.attnc")
            result = convert(SAMPLE, plan, "--variant", variant, "--linear-precision", "f32")
            assert result.returncode == 0, result.stderr
            sessions[variant] = attnc.InferenceSession(plan)
        for length in sorted(n for n in lengths if 2 <= n <= 512):
            rng = np.random.default_rng(length)
            ids = rng.integers(0, 1000, size=(1, length), dtype=np.int64)
            feeds = {"input_ids": ids, "attention_mask": np.ones_like(ids)}
            (expected,) = sessions[variant].run(None, feeds)
            (actual,) = run_onnx(written, feeds)
            assert relative_error(actual, expected) <= 1e-4, (length, variant)


def test_variant_without_a_standard_form_is_refused_with_the_reason(tmp_path):
    result = convert(SAMPLE, str(tmp_path / "sb.onnx"), "--to", "onnx", "--variant", "scatterbrain")
    assert result.returncode == 2
    assert "scatterbrain" in result.stderr and "ONNX" in result.stderr or "data" in result.stderr, result.stderr
    assert not os.path.exists(str(tmp_path / "sb.onnx"))
