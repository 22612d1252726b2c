#!/usr/bin/env python3
"""Writes a MiniLM-shaped BERT (the shape of sentence-transformers' all-MiniLM-L6-v2: 6 layers,
hidden 384, 12 heads, intermediate 1536, vocabulary 30522; random weights, seed 0) for the
quantized-model benchmark, in two folders under OUT:

  OUT/fp32/model.onnx   the torch legacy export (opset 17; inputs input_ids, attention_mask)
  OUT/int8/model.onnx   onnxruntime.quantization.quantize_dynamic of it (int8 weights), the
                        `model_quantized.onnx` form hubs ship

Then time both next to ONNX Runtime (alternating rounds, 2 threads):

  python3 scripts/export_minilm.py /tmp/minilm
  python3 scripts/bench_models.py --model /tmp/minilm/int8 128 512 --model /tmp/minilm/fp32 128 512 --rounds 5

With `--layers`, also one linear layer of each MiniLM shape ([seq, 384] x [384, 384], [384, 1536],
[1536, 384], plus bias) as a float32 model and its quantize_dynamic form, under
OUT/layers/{f32,int8}_KxN/model.onnx: the int8 GEMM against the float32 packed GEMM on the
same weights dequantized (what converting the int8 file to float would run):

  for s in 384x384 384x1536 1536x384; do for t in f32 int8; do
    .build/release/attnc bench /tmp/minilm/layers/${t}_$s/model.onnx --seq 128 --seq 512 --threads 1 --repeat 200
  done; done

Needs torch, transformers, onnx, onnxruntime. About 110 MB written.
"""
import os
import sys

import numpy as np
import onnx
from onnx import helper, numpy_helper

import torch
import transformers
from onnxruntime.quantization import QuantType, quantize_dynamic


class LastHiddenState(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def layers(out):
    """One linear layer per MiniLM shape, float32 and quantize_dynamic."""
    rng = np.random.default_rng(0)
    for k, n in [(384, 384), (384, 1536), (1536, 384)]:
        weight = (rng.standard_normal((k, n)) * 0.05).astype(np.float32)
        bias = rng.standard_normal(n).astype(np.float32)
        graph = helper.make_graph(
            [helper.make_node("MatMul", ["x", "W"], ["p"]), helper.make_node("Add", ["p", "b"], ["y"])], "linear",
            [helper.make_tensor_value_info("x", onnx.TensorProto.FLOAT, [1, "seq", k])],
            [helper.make_tensor_value_info("y", onnx.TensorProto.FLOAT, [1, "seq", n])],
            [numpy_helper.from_array(weight, "W"), numpy_helper.from_array(bias, "b")])
        f32 = os.path.join(out, "layers", f"f32_{k}x{n}")
        int8 = os.path.join(out, "layers", f"int8_{k}x{n}")
        for folder in (f32, int8):
            os.makedirs(folder, exist_ok=True)
        onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), os.path.join(f32, "model.onnx"))
        quantize_dynamic(os.path.join(f32, "model.onnx"), os.path.join(int8, "model.onnx"), weight_type=QuantType.QInt8)


def main():
    arguments = [a for a in sys.argv[1:] if a != "--layers"]
    if len(arguments) != 1:
        sys.exit(__doc__)
    out = arguments[0]
    if "--layers" in sys.argv:
        layers(out)
    torch.manual_seed(0)
    config = transformers.BertConfig(vocab_size=30522, hidden_size=384, num_hidden_layers=6, num_attention_heads=12,
                                     intermediate_size=1536, max_position_embeddings=512)
    model = LastHiddenState(transformers.BertModel(config, add_pooling_layer=False).eval())
    ids = torch.randint(0, 1000, (1, 16))
    for folder in ("fp32", "int8"):
        os.makedirs(os.path.join(out, folder), exist_ok=True)
    fp32 = os.path.join(out, "fp32", "model.onnx")
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
            "last_hidden_state": {0: "batch", 1: "seq"}}
    with torch.no_grad():
        torch.onnx.export(model, (ids, torch.ones_like(ids)), fp32, dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"],
                          dynamic_axes=axes)
    quantize_dynamic(fp32, os.path.join(out, "int8", "model.onnx"), weight_type=QuantType.QInt8)
    print(f"wrote {fp32} and {os.path.join(out, 'int8', 'model.onnx')}", file=sys.stderr)


if __name__ == "__main__":
    main()
