#!/usr/bin/env python3
"""Exports the zoo's extra benchmark models (random weights, small configs) into a cache folder.

The shared models and `Tests/Fixtures/exports` cover BERT, GPT-2, Llama, Qwen2, GPT-NeoX, Phi and a
ViT. This adds the architectures issue #21 names and the others lack, each as a user gets it from
Hugging Face (`AutoModel.from_config`, the default attention implementation) and a torch exporter:

  t5_encoder_dynamo       T5 encoder (relative-position bucket bias, RMSNorm), input_ids + mask
  whisper_encoder_dynamo  Whisper encoder (Conv1d front end, erf GELU), input_features [1, 80, 3000]
  distilbert_legacy       DistilBERT, input_ids + attention_mask
  roberta_legacy          RoBERTa, input_ids + attention_mask
  deit_legacy             DeiT (class and distillation tokens), pixel_values [batch, 3, 224, 224]

Configs are about the size of the small public checkpoints (hidden 256-384, 4-6 layers) so that
latency is dominated by the model, not by per-call overhead. Nothing here is committed: the files
go to OUT (default /tmp/attnc-zoo), and a model already there is kept.

  python3 scripts/zoo_models.py [OUT] [--only t5_encoder_dynamo,...]
"""
import argparse
import os
import sys
import traceback

import torch
import transformers


class Encoder(torch.nn.Module):
    """The model's encoder with one output, `last_hidden_state`."""

    def __init__(self, model, keys):
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, first, second=None):
        inputs = [first] if second is None else [first, second]
        return self.model(**dict(zip(self.keys, inputs))).last_hidden_state


def t5():
    config = transformers.T5Config(vocab_size=1000, d_model=256, d_kv=64, d_ff=1024, num_layers=4, num_heads=4,
                                   relative_attention_num_buckets=32, relative_attention_max_distance=128)
    model = transformers.T5EncoderModel(config)
    ids = torch.randint(0, 1000, (1, 64))
    return model, ["input_ids", "attention_mask"], (ids, torch.ones_like(ids)), {"input_ids": {1: "seq"},
                                                                               "attention_mask": {1: "seq"}}


def whisper():
    config = transformers.WhisperConfig(vocab_size=1000, pad_token_id=0, bos_token_id=1, eos_token_id=2,
                                        decoder_start_token_id=1, num_mel_bins=80, d_model=256, encoder_layers=4,
                                        encoder_attention_heads=4, encoder_ffn_dim=1024, decoder_layers=1,
                                        decoder_attention_heads=4, decoder_ffn_dim=256, max_source_positions=1500)
    model = transformers.WhisperModel(config).get_encoder()
    return model, ["input_features"], (torch.randn(1, 80, 3000),), None


def bert_like(config_class, model_class, **extra):
    def make():
        config = config_class(vocab_size=1000, **extra)
        model = model_class(config)
        ids = torch.randint(0, 1000, (1, 64))
        axes = {"input_ids": {1: "seq"}, "attention_mask": {1: "seq"}}
        return model, ["input_ids", "attention_mask"], (ids, torch.ones_like(ids)), axes
    return make


def deit():
    config = transformers.DeiTConfig(hidden_size=192, num_hidden_layers=6, num_attention_heads=3,
                                     intermediate_size=768, image_size=224, patch_size=16)
    model = transformers.DeiTModel(config, add_pooling_layer=False)
    return model, ["pixel_values"], (torch.randn(1, 3, 224, 224),), None


MODELS = {
    "t5_encoder_dynamo": (t5, True),
    "whisper_encoder_dynamo": (whisper, True),
    "distilbert_legacy": (bert_like(transformers.DistilBertConfig, transformers.DistilBertModel, dim=256,
                                    n_layers=4, n_heads=4, hidden_dim=1024, max_position_embeddings=1024), False),
    "roberta_legacy": (bert_like(transformers.RobertaConfig, transformers.RobertaModel, hidden_size=256,
                                 num_hidden_layers=4, num_attention_heads=4, intermediate_size=1024,
                                 max_position_embeddings=1026), False),
    "deit_legacy": (deit, False),
}


def export(name, out):
    make, dynamo = MODELS[name]
    folder = os.path.join(out, name)
    path = os.path.join(folder, "model.onnx")
    if os.path.exists(path):
        print(f"{path} exists")
        return
    torch.manual_seed(0)
    model, keys, example, axes = make()
    model.eval()
    os.makedirs(folder, exist_ok=True)
    wrapped = Encoder(model, keys)
    if dynamo:
        shapes = None
        if axes:
            seq = torch.export.Dim("seq", min=2, max=4096)
            shapes = tuple({1: seq} for _ in keys)
        program = torch.onnx.export(wrapped, example, input_names=keys, output_names=["last_hidden_state"],
                                    dynamo=True, dynamic_shapes=shapes, optimize=True)
        program.save(path + ".tmp")
    else:
        dynamic = {k: {0: "batch", **{d: v for d, v in (axes or {}).get(k, {}).items()}} for k in keys}
        torch.onnx.export(wrapped, example, path + ".tmp", input_names=keys, output_names=["last_hidden_state"],
                          dynamic_axes=dynamic, opset_version=17, dynamo=False)
    os.replace(path + ".tmp", path)
    print(f"{path} written")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out", nargs="?", default="/tmp/attnc-zoo")
    parser.add_argument("--only", default="")
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n] or list(MODELS)
    failed = 0
    for name in names:
        try:
            with torch.no_grad():
                export(name, args.out)
        except Exception:
            failed += 1
            print(f"{name}: export failed", file=sys.stderr)
            traceback.print_exc()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
