"""`attnc convert --to onnx --token-merge S`: each block's merge written as an ai.attnc local
function in standard ops (ArgMax, TopK, ScatterND with reduction), the unmerges
as Gather. ONNX Runtime on the written file must match attnc's own plan of the same options
within 1e-4 relative error: the same tokens merged (ties broken as attnc's kernel breaks them:
the lowest B position for an A token's best edge, the lowest A position among equal best
edges), the same size-weighted means, proportional attention and unmerge. Skips with the reason
when the binary, onnx, onnxruntime or ../shared is absent."""

import os

import numpy as np
import pytest

import attnc
from onnx_output_support import (  # noqa: F401  (skips this module without onnx / onnxruntime)
    SAMPLE, SHARED, convert, converted, inputs_of, needs_binary, onnx, relative_error, run_onnx, run_plan)
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

pytestmark = needs_binary

ENCODERS = ["bert_tiny_legacy", "bert_tiny_dynamo", "bert_tiny_external", "bert_mini_legacy", "vit_tiny_legacy"]


def encoder(name):
    if name == "sample_bert_tiny":
        return SAMPLE
    path = os.path.join(SHARED, "models", name, "model.onnx")
    if not os.path.exists(path):
        pytest.skip("%s is absent (set ATTNC_SHARED)" % path)
    return path


def token_feeds(model, length, padding, seed):
    """Random token ids of `length` (the last `padding` masked), or the model's own test data
    for a model without input_ids (ViT: a fixed number of patches)."""
    names = [i.name for i in onnx.load(model, load_external_data=False).graph.input]
    if "input_ids" not in names:
        return inputs_of(model)
    rng = np.random.default_rng(seed)
    ids = rng.integers(1, 1000, size=(1, length), dtype=np.int64)
    mask = np.ones_like(ids)
    if padding:
        mask[:, length - padding:] = 0
    return {name: value for name, value in {"input_ids": ids, "attention_mask": mask}.items() if name in names}


def assert_matches_plan(model, written, options, feeds, tmp_path):
    plan = str(tmp_path / "merged.attnc")
    attnc.convert(model, plan, force=True, **options)
    expected = run_plan(plan, feeds)
    actual = run_onnx(written, feeds)
    assert len(actual) == len(expected)
    for index, (a, e) in enumerate(zip(actual, expected)):
        assert a.shape == e.shape, "output %d: %s against attnc's %s" % (index, a.shape, e.shape)
        if np.issubdtype(e.dtype, np.floating):
            error = relative_error(a, e)
            assert error <= 1e-4, "%s %s output %d: relative error %.3g against attnc's plan" % (model, options, index, error)


# MARK: - the shared encoders


SCHEDULES = ["4", "3:decreasing", "6,0,2"]


@pytest.mark.parametrize("schedule", SCHEDULES)
@pytest.mark.parametrize("name", ["sample_bert_tiny"] + ENCODERS)
def test_token_merge_matches_attncs_plan(name, schedule, tmp_path):
    model = encoder(name)
    written = converted(model, str(tmp_path / "merged.onnx"), "--policy", "exact", "--token-merge", schedule)
    onnx.checker.check_model(written, full_check=True)
    functions = [f.name for f in onnx.load(written, load_external_data=False).functions]
    assert any(f.startswith("token_merge_") for f in functions), functions
    for length, padding, seed in [(48, 0, 1), (61, 9, 2)]:
        feeds = token_feeds(model, length, padding, seed)
        assert_matches_plan(model, written, {"policy": "exact", "token_merge": schedule}, feeds, tmp_path)


@pytest.mark.parametrize("variant", ["performer:m=64", "linformer:k=8", "nystrom:m=8"])
def test_token_merge_with_a_variant_matches_attncs_plan(variant, tmp_path):
    model = encoder("bert_mini_legacy")
    written = converted(model, str(tmp_path / "merged.onnx"), "--variant", variant, "--token-merge", "8")
    onnx.checker.check_model(written, full_check=True)
    feeds = token_feeds(model, 128, 17, 3)
    assert_matches_plan(model, written, {"policy": "exact", "variant": variant, "token_merge": "8"}, feeds, tmp_path)


def test_decoders_are_refused_with_the_reason(tmp_path):
    model = os.path.join(SHARED, "models", "gpt2_tiny_dynamo", "model.onnx")
    if not os.path.exists(model):
        pytest.skip("%s is absent" % model)
    result = convert(model, str(tmp_path / "gpt2.onnx"), "--to", "onnx", "--policy", "exact", "--token-merge", "2")
    assert result.returncode == 2, result.stdout
    assert "causal" in result.stderr, result.stderr
    assert not os.path.exists(str(tmp_path / "gpt2.onnx"))


# MARK: - ties


def tiny_encoder(path, hidden=32, heads=2, blocks=2, seed=0):
    """A post-norm encoder of `blocks` blocks on float embeddings `x [1, seq, hidden]`, written as
    the legacy exporter writes BERT's attention (no position embedding, so equal rows of x
    stay equal through every block)."""
    rng = np.random.default_rng(seed)
    depth = hidden // heads
    nodes, initializers = [], []

    def constant(name, array):
        initializers.append(numpy_helper.from_array(np.asarray(array), name))
        return name

    def node(op, inputs, output, **attributes):
        nodes.append(helper.make_node(op, inputs, [output], **attributes))
        return output

    split = constant("split_heads", np.array([0, 0, heads, depth], np.int64))
    merge = constant("merge_heads", np.array([0, 0, hidden], np.int64))
    scale = constant("scale", np.array(np.sqrt(depth), np.float32))
    x = "x"
    for block in range(blocks):
        prefix = "b%d_" % block

        def linear(name, value, inputs, outputs):
            weight = constant(prefix + name + "_w", (rng.standard_normal((inputs, outputs)) * 0.3).astype(np.float32))
            bias = constant(prefix + name + "_b", (rng.standard_normal(outputs) * 0.05).astype(np.float32))
            return node("Add", [node("MatMul", [value, weight], prefix + name + "_mm"), bias], prefix + name)

        def norm(name, value):
            gamma = constant(prefix + name + "_g", (1 + 0.1 * rng.standard_normal(hidden)).astype(np.float32))
            beta = constant(prefix + name + "_beta", (0.1 * rng.standard_normal(hidden)).astype(np.float32))
            return node("LayerNormalization", [value, gamma, beta], prefix + name, axis=-1, epsilon=1e-5)

        def heads_of(value, name, perm):
            return node("Transpose", [node("Reshape", [value, split], prefix + name + "_r")], prefix + name, perm=perm)

        q = heads_of(linear("q", x, hidden, hidden), "qh", [0, 2, 1, 3])
        k = heads_of(linear("k", x, hidden, hidden), "kh", [0, 2, 3, 1])
        v = heads_of(linear("v", x, hidden, hidden), "vh", [0, 2, 1, 3])
        scores = node("Div", [node("MatMul", [q, k], prefix + "scores_mm"), scale], prefix + "scores")
        probabilities = node("Softmax", [scores], prefix + "probabilities", axis=-1)
        context = node("Transpose", [node("MatMul", [probabilities, v], prefix + "context_mm")], prefix + "context_t", perm=[0, 2, 1, 3])
        attended = linear("o", node("Reshape", [context, merge], prefix + "context"), hidden, hidden)
        x1 = norm("ln1", node("Add", [attended, x], prefix + "residual1"))
        hidden_mlp = node("Relu", [linear("f1", x1, hidden, 2 * hidden)], prefix + "relu")
        x = norm("ln2", node("Add", [linear("f2", hidden_mlp, 2 * hidden, hidden), x1], prefix + "residual2"))
    nodes.append(helper.make_node("Identity", [x], ["y"]))
    graph = helper.make_graph(
        nodes, "tiny_encoder", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, "seq", hidden])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, "seq", hidden])], initializers)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="attnc tests")
    onnx.checker.check_model(model)
    onnx.save(model, path)
    return path


@pytest.mark.parametrize("schedule", ["5", "9,4"])
def test_ties_break_as_attncs_kernel_breaks_them(schedule, tmp_path):
    # Tokens drawn from three rows: every score has exact ties (equal keys), so an A token's
    # best partner and the tokens chosen among equal best edges decide the merge.
    model = tiny_encoder(str(tmp_path / "tiny.onnx"))
    rng = np.random.default_rng(7)
    rows = rng.standard_normal((3, 32)).astype(np.float32)
    x = rows[rng.integers(0, 3, size=40)][None]
    written = converted(model, str(tmp_path / "tiny_merged.onnx"), "--policy", "exact", "--token-merge", schedule)
    onnx.checker.check_model(written, full_check=True)
    assert_matches_plan(model, written, {"policy": "exact", "token_merge": schedule}, {"x": x}, tmp_path)
    (unmerged,) = run_onnx(model, {"x": x})
    (merged,) = run_onnx(written, {"x": x})
    # Merging equal tokens with proportional attention changes nothing.
    assert relative_error(merged, unmerged) <= 1e-4
