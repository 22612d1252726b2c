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

Needs torch, transformers, onnx, onnxruntime. About 110 MB written.
"""
import os
import sys

import torch
import transformers
from onnxruntime.quantization import QuantType, quantize_dynamic


class LastHiddenState(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    out = sys.argv[1]
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
