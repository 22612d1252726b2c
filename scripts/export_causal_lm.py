#!/usr/bin/env python3
"""Exports a real pretrained causal language model's decoder (default: distilgpt2, 6 layers,
12 heads of 64) as ONNX with two texts of real English as test data, for measuring where
sparse attention pays (`scripts/bench_sparsity.py`):

  OUT/model.onnx                         input_ids [1, seq] -> last_hidden_state [1, seq, 768]
                                         (torch legacy export, opset 17, eager attention)
  OUT/text_a/test_data_set_0/input_0.pb  TOKENS token ids of one text (calibration)
  OUT/text_b/test_data_set_0/input_0.pb  TOKENS token ids of another (held out)
  OUT/text_{a,b}/test_data_set_0/output_0.pb  torch's last_hidden_state on them
  OUT/attention/layerL_{q,k,v}.npy       each layer's q (scaled by 1/sqrt(d)), k, v on text a,
                                         [heads, TOKENS, d], for `attnc bench quality --causal`
                                         (GPT-2 family: split from each block's c_attn)

The texts are the docstrings of Python's standard library modules (real English prose, no
download): text a from the first half of the module list, text b from the second.

  python3 scripts/export_causal_lm.py /tmp/attnc-lm --tokens 1024
  attnc bench quality --attention-data /tmp/attnc-lm/attention --causal --budget 0.01

Needs torch, transformers, onnx and the model from the Hugging Face hub (about 330 MB cached).
"""
import argparse
import importlib
import os
import pkgutil
import sys

import numpy as np
import onnx
from onnx import numpy_helper
import torch
import transformers


class LastHiddenState(torch.nn.Module):
    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids):
        return self.model(input_ids=input_ids).last_hidden_state


def stdlib_text(half):
    """The docstrings of the standard library's top-level modules, the first or second half."""
    names = sorted(m.name for m in pkgutil.iter_modules() if not m.name.startswith("_") and m.module_finder.path.find("site-packages") < 0)
    names = names[: len(names) // 2] if half == 0 else names[len(names) // 2:]
    parts = []
    for name in names:
        try:
            module = importlib.import_module(name)
        except Exception:
            continue
        if module.__doc__ and len(module.__doc__) > 200:
            parts.append(module.__doc__)
    return "\n\n".join(parts)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out")
    parser.add_argument("--model", default="distilgpt2")
    parser.add_argument("--tokens", type=int, default=1024)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    tokenizer = transformers.AutoTokenizer.from_pretrained(args.model)
    model = transformers.AutoModel.from_pretrained(args.model, attn_implementation="eager").eval()
    wrapped = LastHiddenState(model)
    path = os.path.join(args.out, "model.onnx")
    example = torch.zeros(1, 16, dtype=torch.int64)
    torch.onnx.export(wrapped, (example,), path, input_names=["input_ids"], output_names=["last_hidden_state"],
                      dynamic_axes={"input_ids": {1: "seq"}, "last_hidden_state": {1: "seq"}}, opset_version=17, dynamo=False)
    captured = {}
    config = model.config
    heads, hidden = config.n_head, config.n_embd
    for index, block in enumerate(model.h):
        block.attn.c_attn.register_forward_hook(lambda module, inputs, output, index=index: captured.__setitem__(index, output.detach()))
    for half, label in [(0, "text_a"), (1, "text_b")]:
        ids = tokenizer(stdlib_text(half), return_tensors="np")["input_ids"][:, : args.tokens].astype(np.int64)
        if ids.shape[1] < args.tokens:
            sys.exit(f"{label}: only {ids.shape[1]} tokens of text")
        folder = os.path.join(args.out, label, "test_data_set_0")
        os.makedirs(folder, exist_ok=True)
        with torch.no_grad():
            hidden = wrapped(torch.from_numpy(ids)).numpy()
        with open(os.path.join(folder, "input_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(ids, "input_ids").SerializeToString())
        with open(os.path.join(folder, "output_0.pb"), "wb") as f:
            f.write(numpy_helper.from_array(hidden, "last_hidden_state").SerializeToString())
        print(f"{label}: {ids.shape[1]} tokens, e.g. {tokenizer.decode(ids[0, :24])!r}")
        if half == 0:
            capture = os.path.join(args.out, "attention")
            os.makedirs(capture, exist_ok=True)
            depth = hidden // heads
            for index, qkv in sorted(captured.items()):
                q, k, v = qkv[0].split(hidden, dim=-1)
                for name, x, factor in [("q", q, depth ** -0.5), ("k", k, 1.0), ("v", v, 1.0)]:
                    heads_first = (x * factor).reshape(-1, heads, depth).transpose(0, 1).contiguous().numpy().astype(np.float32)
                    np.save(os.path.join(capture, f"layer{index}_{name}.npy"), heads_first)
    onnx.checker.check_model(path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
