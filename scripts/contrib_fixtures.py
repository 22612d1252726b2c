"""Small graphs around ONNX Runtime's contrib attention ops (com.microsoft Attention with a cache,
MultiHeadAttention, GroupQueryAttention, RotaryEmbedding), in the forms ONNX Runtime's
transformers optimizer and model builders write them, with ONNX Runtime's outputs as test data.

ONNX Runtime's optimizer does not fuse these from today's Hugging Face exports (it fuses only
layer norms and GELUs there), so each graph is built with onnx.helper: hidden 32, 4 heads of 8
(2 key/value heads for GroupQueryAttention), random seeded weights, batch 2. Used by
export_fixtures.py --contrib-only; each function writes `folder/model.onnx` and its
`test_data_set_N`.
"""
import os

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto, helper, numpy_helper

HIDDEN, HEADS, KV_HEADS, DEPTH, BATCH = 32, 4, 2, 8, 2
F, I32, I64 = TensorProto.FLOAT, TensorProto.INT32, TensorProto.INT64


def weight(name, shape, seed):
    values = (np.random.default_rng(seed).standard_normal(shape) / np.sqrt(shape[0])).astype(np.float32)
    return numpy_helper.from_array(values, name)


def model(nodes, inputs, outputs, initializers):
    graph = helper.make_graph(nodes, "contrib", inputs, outputs, initializers)
    result = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17), helper.make_opsetid("com.microsoft", 1)],
                               producer_name="attnc contrib_fixtures")
    result.ir_version = 8
    return result


def save(folder, nodes, inputs, outputs, initializers, feeds_list, reference=None):
    """Writes the model (opset 17 and com.microsoft 1) and one test data set per feeds dict: ONNX
    Runtime's outputs of the model, or of `reference` (nodes, initializers) with the same inputs
    and outputs when its CPU provider cannot run the model's form."""
    path = os.path.join(folder, "model.onnx")
    onnx.save(model(nodes, inputs, outputs, initializers), path)
    if reference:
        reference_path = os.path.join(folder, "reference.onnx")
        onnx.save(model(reference[0], inputs, outputs, reference[1]), reference_path)
        session = ort.InferenceSession(reference_path, providers=["CPUExecutionProvider"])
        os.remove(reference_path)
    else:
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for index, feeds in enumerate(feeds_list):
        results = session.run(None, feeds)
        data = os.path.join(folder, f"test_data_set_{index}")
        os.makedirs(data, exist_ok=True)
        for i, value in enumerate(inputs):
            tensor = numpy_helper.from_array(feeds[value.name], value.name)
            open(os.path.join(data, f"input_{i}.pb"), "wb").write(tensor.SerializeToString())
        for i, (value, result) in enumerate(zip(outputs, results)):
            tensor = numpy_helper.from_array(result, value.name)
            open(os.path.join(data, f"output_{i}.pb"), "wb").write(tensor.SerializeToString())


def left_padded_mask(total, pad, dtype=np.int32):
    mask = np.ones((BATCH, total), dtype=dtype)
    mask[1, :pad] = 0
    return mask


def floats(shape, seed):
    return np.random.default_rng(seed).standard_normal(shape).astype(np.float32)


def attention_with_past(folder):
    """com.microsoft.Attention as the GPT-2 optimizer writes it for a decoder with a cache:
    packed QKV weights, unidirectional, a [B, total] mask and past/present [2, B, H, L, d]."""
    nodes = [helper.make_node("Attention", ["x", "w", "b", "mask", "past"], ["y", "present"], domain="com.microsoft",
                              num_heads=HEADS, unidirectional=1)]
    inputs = [helper.make_tensor_value_info("x", F, ["batch", "seq", HIDDEN]),
              helper.make_tensor_value_info("mask", I32, ["batch", "total"]),
              helper.make_tensor_value_info("past", F, [2, "batch", HEADS, "past", DEPTH])]
    outputs = [helper.make_tensor_value_info("y", F, ["batch", "seq", HIDDEN]),
               helper.make_tensor_value_info("present", F, [2, "batch", HEADS, "total", DEPTH])]
    weights = [weight("w", (HIDDEN, 3 * HIDDEN), 1), weight("b", (3 * HIDDEN,), 2)]
    feeds = [{"x": floats((BATCH, s, HIDDEN), 10 + s), "mask": left_padded_mask(p + s, pad),
              "past": floats((2, BATCH, HEADS, p, DEPTH), 20 + p)} for p, s, pad in [(5, 3, 2), (7, 1, 3), (0, 4, 1)]]
    save(folder, nodes, inputs, outputs, weights, feeds)


def mha_with_past(folder):
    """MultiHeadAttention for decoder self-attention: separate Q, K, V projections, the bias
    input, a [B, total] key padding mask, past/present keys and values, unidirectional."""
    nodes = [helper.make_node("MatMul", ["x", f"w{n}"], [n]) for n in "qkv"]
    nodes.append(helper.make_node(
        "MultiHeadAttention", ["q", "k", "v", "bias", "mask", "", "past_key", "past_value"],
        ["y", "present_key", "present_value"], domain="com.microsoft", num_heads=HEADS, unidirectional=1))
    inputs = [helper.make_tensor_value_info("x", F, ["batch", "seq", HIDDEN]),
              helper.make_tensor_value_info("mask", I32, ["batch", "total"]),
              helper.make_tensor_value_info("past_key", F, ["batch", HEADS, "past", DEPTH]),
              helper.make_tensor_value_info("past_value", F, ["batch", HEADS, "past", DEPTH])]
    outputs = [helper.make_tensor_value_info("y", F, ["batch", "seq", HIDDEN]),
               helper.make_tensor_value_info("present_key", F, ["batch", HEADS, "total", DEPTH]),
               helper.make_tensor_value_info("present_value", F, ["batch", HEADS, "total", DEPTH])]
    weights = [weight(f"w{n}", (HIDDEN, HIDDEN), 3 + i) for i, n in enumerate("qkv")] + [weight("bias", (3 * HIDDEN,), 6)]
    feeds = [{"x": floats((BATCH, s, HIDDEN), 30 + s), "mask": left_padded_mask(p + s, pad),
              "past_key": floats((BATCH, HEADS, p, DEPTH), 40 + p), "past_value": floats((BATCH, HEADS, p, DEPTH), 50 + p)}
             for p, s, pad in [(5, 3, 2), (7, 1, 3)]]
    save(folder, nodes, inputs, outputs, weights, feeds)


def mha_cross_packed_kv(folder):
    """MultiHeadAttention for cross-attention: keys and values packed [B, L, H, 2, d] from the
    encoder's states, key lengths [B] (right padding), no cache. ONNX Runtime's CPU provider does
    not run packed KV, so the test data are its outputs for the same attention with K and V
    given apart (Slice + Squeeze of the packed tensor)."""
    common = [helper.make_node("MatMul", ["x", "wq"], ["q"]),
              helper.make_node("MatMul", ["memory", "wkv"], ["kv_flat"]),
              helper.make_node("Reshape", ["kv_flat", "kv_shape"], ["kv"])]
    nodes = common + [helper.make_node("MultiHeadAttention", ["q", "kv", "", "", "lengths"], ["y"], domain="com.microsoft",
                                       num_heads=HEADS)]
    apart = common + [helper.make_node("Split", ["kv", "two"], ["k5", "v5"], axis=3),
                      helper.make_node("Squeeze", ["k5", "three"], ["k4"]), helper.make_node("Squeeze", ["v5", "three"], ["v4"]),
                      helper.make_node("Reshape", ["k4", "flat"], ["k"]), helper.make_node("Reshape", ["v4", "flat"], ["v"]),
                      helper.make_node("MultiHeadAttention", ["q", "k", "v", "", "lengths"], ["y"], domain="com.microsoft",
                                       num_heads=HEADS)]
    inputs = [helper.make_tensor_value_info("x", F, ["batch", "seq", HIDDEN]),
              helper.make_tensor_value_info("memory", F, ["batch", "memory_length", HIDDEN]),
              helper.make_tensor_value_info("lengths", I32, ["batch"])]
    outputs = [helper.make_tensor_value_info("y", F, ["batch", "seq", HIDDEN])]
    weights = [weight("wq", (HIDDEN, HIDDEN), 7), weight("wkv", (HIDDEN, 2 * HIDDEN), 8),
               numpy_helper.from_array(np.array([0, 0, HEADS, 2, DEPTH], np.int64), "kv_shape")]
    extra = [numpy_helper.from_array(np.array([1, 1], np.int64), "two"), numpy_helper.from_array(np.array([3], np.int64), "three"),
             numpy_helper.from_array(np.array([0, 0, HIDDEN], np.int64), "flat")]
    feeds = [{"x": floats((BATCH, s, HIDDEN), 60 + s), "memory": floats((BATCH, m, HIDDEN), 70 + m),
              "lengths": np.array([m, m - 3], np.int32)} for s, m in [(3, 9), (1, 6)]]
    save(folder, nodes, inputs, outputs, weights, feeds, reference=(apart, weights + extra))


def mha_packed_qkv(folder):
    """MultiHeadAttention on packed QKV [B, S, H, 3, d] with an attention_bias input. The test
    data are ONNX Runtime's outputs with Q, K and V given apart (its CPU provider does not run
    packed QKV)."""
    common = [helper.make_node("MatMul", ["x", "wqkv"], ["qkv_flat"]),
              helper.make_node("Reshape", ["qkv_flat", "qkv_shape"], ["qkv"])]
    nodes = common + [helper.make_node("MultiHeadAttention", ["qkv", "", "", "", "", "attention_bias"], ["y"],
                                       domain="com.microsoft", num_heads=HEADS, scale=0.2)]
    apart = common + [helper.make_node("Split", ["qkv", "ones"], ["q5", "k5", "v5"], axis=3)]
    for n in "qkv":
        apart += [helper.make_node("Squeeze", [f"{n}5", "three"], [f"{n}4"]), helper.make_node("Reshape", [f"{n}4", "flat"], [n])]
    apart.append(helper.make_node("MultiHeadAttention", ["q", "k", "v", "", "", "attention_bias"], ["y"],
                                  domain="com.microsoft", num_heads=HEADS, scale=0.2))
    inputs = [helper.make_tensor_value_info("x", F, ["batch", "seq", HIDDEN]),
              helper.make_tensor_value_info("attention_bias", F, ["batch", HEADS, "seq", "seq"])]
    outputs = [helper.make_tensor_value_info("y", F, ["batch", "seq", HIDDEN])]
    weights = [weight("wqkv", (HIDDEN, 3 * HIDDEN), 9),
               numpy_helper.from_array(np.array([0, 0, HEADS, 3, DEPTH], np.int64), "qkv_shape")]
    extra = [numpy_helper.from_array(np.array([1, 1, 1], np.int64), "ones"), numpy_helper.from_array(np.array([3], np.int64), "three"),
             numpy_helper.from_array(np.array([0, 0, HIDDEN], np.int64), "flat")]
    feeds = [{"x": floats((BATCH, s, HIDDEN), 80 + s), "attention_bias": floats((BATCH, HEADS, s, s), 90 + s)} for s in [5, 2]]
    save(folder, nodes, inputs, outputs, weights, feeds, reference=(apart, weights + extra))


def group_query_attention(folder, rotary, ragged=False):
    """GroupQueryAttention as ONNX Runtime's model builders write it for a growing cache (present
    = past + new): 4 query heads of 16 (its rotary needs head sizes in multiples of 16) on 2
    key/value heads, seqlens_k and total_sequence_length, and with `rotary` its own rotary
    embedding from cos/sin caches (do_rotary). A prompt on an empty cache, then a decoding step
    (ONNX Runtime takes several new tokens on a cache only at batch 1). With `ragged`, the batch
    entries' lengths differ (seqlens_k): the prompt's second entry is right-padded (2 of 4 tokens
    real), and in the step the second entry has 4 of the buffer's 7 past keys (the other 3 hold
    random values, which ONNX Runtime ignores and leaves out of the present)."""
    HIDDEN, DEPTH = 64, 16
    kv_hidden = KV_HEADS * DEPTH
    nodes = [helper.make_node("MatMul", ["x", "wq"], ["q"]), helper.make_node("MatMul", ["x", "wk"], ["k"]),
             helper.make_node("MatMul", ["x", "wv"], ["v"])]
    extra = ["cos_cache", "sin_cache"] if rotary else []
    nodes.append(helper.make_node(
        "GroupQueryAttention", ["q", "k", "v", "past_key", "past_value", "seqlens_k", "total_sequence_length"] + extra,
        ["y", "present_key", "present_value"], domain="com.microsoft", num_heads=HEADS, kv_num_heads=KV_HEADS,
        do_rotary=1 if rotary else 0))
    inputs = [helper.make_tensor_value_info("x", F, ["batch", "seq", HIDDEN]),
              helper.make_tensor_value_info("past_key", F, ["batch", KV_HEADS, "past", DEPTH]),
              helper.make_tensor_value_info("past_value", F, ["batch", KV_HEADS, "past", DEPTH]),
              helper.make_tensor_value_info("seqlens_k", I32, ["batch"]),
              helper.make_tensor_value_info("total_sequence_length", I32, [])]
    outputs = [helper.make_tensor_value_info("y", F, ["batch", "seq", HIDDEN]),
               helper.make_tensor_value_info("present_key", F, ["batch", KV_HEADS, "total", DEPTH]),
               helper.make_tensor_value_info("present_value", F, ["batch", KV_HEADS, "total", DEPTH])]
    weights = [weight("wq", (HIDDEN, HIDDEN), 11), weight("wk", (HIDDEN, kv_hidden), 12), weight("wv", (HIDDEN, kv_hidden), 13)]
    if rotary:
        angles = np.arange(64)[:, None] * (10000.0 ** (-np.arange(0, DEPTH, 2) / DEPTH))[None, :]
        weights += [numpy_helper.from_array(np.cos(angles).astype(np.float32), "cos_cache"),
                    numpy_helper.from_array(np.sin(angles).astype(np.float32), "sin_cache")]
    feeds = [{"x": floats((BATCH, s, HIDDEN), 100 + s), "past_key": floats((BATCH, KV_HEADS, p, DEPTH), 110 + p),
              "past_value": floats((BATCH, KV_HEADS, p, DEPTH), 120 + p),
              "seqlens_k": np.array([p + s - 1, (p + s - 1) - (3 if p else 2)] if ragged else [p + s - 1] * BATCH, np.int32),
              "total_sequence_length": np.array(p + s, np.int32)}
             for p, s in [(0, 4), (7, 1)]]
    save(folder, nodes, inputs, outputs, weights, feeds)


def rotary_embedding(folder):
    """com.microsoft.RotaryEmbedding on [B, S, H·d] with position_ids: the whole head in halves,
    and the first half of the head in neighbouring pairs (interleaved, rotary_embedding_dim)."""
    angles = np.arange(64)[:, None] * (10000.0 ** (-np.arange(0, DEPTH, 2) / DEPTH))[None, :]
    nodes = [helper.make_node("RotaryEmbedding", ["x", "position_ids", "cos_cache", "sin_cache"], ["y"],
                              domain="com.microsoft", num_heads=HEADS),
             helper.make_node("RotaryEmbedding", ["x", "position_ids", "cos_half", "sin_half"], ["y_interleaved"],
                              domain="com.microsoft", num_heads=HEADS, interleaved=1, rotary_embedding_dim=DEPTH // 2)]
    inputs = [helper.make_tensor_value_info("x", F, ["batch", "seq", HIDDEN]),
              helper.make_tensor_value_info("position_ids", I64, ["batch", "seq"])]
    outputs = [helper.make_tensor_value_info("y", F, ["batch", "seq", HIDDEN]),
               helper.make_tensor_value_info("y_interleaved", F, ["batch", "seq", HIDDEN])]
    weights = [numpy_helper.from_array(np.cos(angles).astype(np.float32), "cos_cache"),
               numpy_helper.from_array(np.sin(angles).astype(np.float32), "sin_cache"),
               numpy_helper.from_array(np.cos(angles[:, :DEPTH // 4]).astype(np.float32), "cos_half"),
               numpy_helper.from_array(np.sin(angles[:, :DEPTH // 4]).astype(np.float32), "sin_half")]
    feeds = [{"x": floats((BATCH, s, HIDDEN), 130 + s),
              "position_ids": np.stack([np.arange(s), np.arange(s) + 5]).astype(np.int64)} for s in [4, 1]]
    save(folder, nodes, inputs, outputs, weights, feeds)


FIXTURES = {
    "ortcontrib_attention_past": attention_with_past,
    "ortcontrib_mha_past": mha_with_past,
    "ortcontrib_mha_cross_packed_kv": mha_cross_packed_kv,
    "ortcontrib_mha_packed_qkv": mha_packed_qkv,
    "ortcontrib_gqa": lambda folder: group_query_attention(folder, rotary=False),
    "ortcontrib_gqa_rotary": lambda folder: group_query_attention(folder, rotary=True),
    "ortcontrib_gqa_ragged": lambda folder: group_query_attention(folder, rotary=True, ragged=True),
    "ortcontrib_rotary_embedding": rotary_embedding,
}
