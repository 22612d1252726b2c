#!/usr/bin/env python3
"""Architecture sweep exports: tiny random models, legacy and dynamo exporters.

usage: export.py NAME EXPORTER [IMPL]   (EXPORTER legacy|dynamo, IMPL default|eager)
Writes $ARCH_SWEEP (default /tmp/arch-sweep)/<NAME>[_eager]_<EXPORTER>/model.onnx, feeds in feed0/ (unpadded) and
feed1/ (padded, text only) as <input>.npy, ONNX Runtime outputs as feedN/ort_<output>.npy.
"""
import json
import os
import sys
import traceback

import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers as T

ROOT = os.environ.get("ARCH_SWEEP", "/tmp/arch-sweep")
B, S, V = 2, 8, 100


def text_common(**kw):
    return dict(dict(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                     intermediate_size=128, max_position_embeddings=64), **kw)


# name -> (config factory, model class or None for AutoModel, kind, output attribute)
def spec(name):
    if name == "mistral":
        return T.MistralConfig(**text_common(num_key_value_heads=2, sliding_window=4)), "dec"
    if name == "gemma":
        return T.GemmaConfig(**text_common(num_key_value_heads=2, head_dim=16)), "dec"
    if name == "gemma2":
        return T.Gemma2Config(**text_common(num_key_value_heads=2, head_dim=16, sliding_window=4,
                                            attn_logit_softcapping=50.0, final_logit_softcapping=30.0)), "dec"
    if name == "opt":
        return T.OPTConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4, ffn_dim=128,
                           max_position_embeddings=64, word_embed_proj_dim=64), "dec"
    if name == "bloom":
        return T.BloomConfig(vocab_size=V, hidden_size=64, n_layer=2, n_head=4), "dec"
    if name == "falcon":
        return T.FalconConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4), "dec"
    if name == "gpt_bigcode":
        return T.GPTBigCodeConfig(vocab_size=V, n_embd=64, n_layer=2, n_head=4, n_positions=64, n_inner=128,
                                  multi_query=True), "dec"
    if name == "stablelm":
        return T.StableLmConfig(**text_common(num_key_value_heads=4)), "dec"
    if name == "albert":
        return T.AlbertConfig(vocab_size=V, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                              num_attention_heads=4, intermediate_size=128, max_position_embeddings=64), "enc"
    if name == "electra":
        return T.ElectraConfig(vocab_size=V, embedding_size=32, hidden_size=64, num_hidden_layers=2,
                               num_attention_heads=4, intermediate_size=128, max_position_embeddings=64), "enc"
    if name == "mpnet":
        return T.MPNetConfig(**text_common(max_position_embeddings=66)), "enc"
    if name == "deberta_v2":
        return T.DebertaV2Config(**text_common(relative_attention=True, pos_att_type=["p2c", "c2p"],
                                               position_buckets=16, max_relative_positions=-1,
                                               norm_rel_ebd="layer_norm", share_att_key=True,
                                               position_biased_input=False)), "enc"
    if name == "xlm_roberta":
        return T.XLMRobertaConfig(**text_common(max_position_embeddings=66)), "enc"
    if name == "modernbert":
        return T.ModernBertConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                  intermediate_size=128, max_position_embeddings=64, local_attention=4,
                                  global_attn_every_n_layers=2, pad_token_id=0), "enc"
    if name == "clip_text":
        return T.CLIPTextConfig(vocab_size=V, hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                intermediate_size=128, max_position_embeddings=64), "clip_text"
    if name == "clip_vision":
        return T.CLIPVisionConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                  image_size=32, patch_size=8), "vision"
    if name == "siglip_vision":
        return T.SiglipVisionConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4,
                                    intermediate_size=128, image_size=32, patch_size=8), "vision"
    if name == "swin":
        return T.SwinConfig(image_size=32, patch_size=2, embed_dim=32, depths=[2, 2], num_heads=[2, 4],
                            window_size=4), "vision"
    if name == "beit":
        return T.BeitConfig(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                            image_size=32, patch_size=8, use_relative_position_bias=True), "vision"
    if name == "wav2vec2":
        return T.Wav2Vec2Config(hidden_size=64, num_hidden_layers=2, num_attention_heads=4, intermediate_size=128,
                                conv_dim=(32, 32, 32), conv_stride=(5, 2, 2), conv_kernel=(10, 3, 3),
                                num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=4), "audio"
    raise KeyError(name)


MODEL_CLASS = {"clip_text": T.CLIPTextModel, "clip_vision": T.CLIPVisionModel, "siglip_vision": T.SiglipVisionModel}


class Wrapper(torch.nn.Module):
    def __init__(self, model, keys):
        super().__init__()
        self.model, self.keys = model, keys

    def forward(self, *args):
        kw = dict(zip(self.keys, args))
        return self.model(**kw).last_hidden_state


def feeds(kind):
    g = np.random.default_rng(1)
    if kind in ("dec", "enc", "clip_text"):
        ids = g.integers(1, V, size=(B, S)).astype(np.int64)
        plain = np.ones((B, S), np.int64)
        padded = plain.copy()
        if kind == "dec":
            padded[1, :3] = 0
        else:
            padded[1, -3:] = 0
        return ["input_ids", "attention_mask"], [[ids, plain], [ids, padded]]
    if kind == "vision":
        return ["pixel_values"], [[g.standard_normal((B, 3, 32, 32)).astype(np.float32)]]
    if kind == "audio":
        return ["input_values"], [[g.standard_normal((B, 1600)).astype(np.float32)]]


def main():
    name, exporter = sys.argv[1], sys.argv[2]
    impl = sys.argv[3] if len(sys.argv) > 3 else "default"
    folder = os.path.join(ROOT, f"{name}{'_eager' if impl == 'eager' else ''}_{exporter}")
    os.makedirs(folder, exist_ok=True)
    info = {"name": name, "exporter": exporter, "impl": impl}
    torch.manual_seed(0)
    config, kind = spec(name)
    cls = MODEL_CLASS.get(name, T.AutoModel)
    kwargs = {} if impl == "default" else {"attn_implementation": "eager"}
    model = (cls._from_config(config, **kwargs) if cls is not T.AutoModel else T.AutoModel.from_config(config, **kwargs))
    model.eval()
    info["attn_implementation"] = getattr(model.config, "_attn_implementation", None)
    keys, sets = feeds(kind)
    wrapped = Wrapper(model, keys)
    example = tuple(torch.from_numpy(a) for a in sets[-1])
    path = os.path.join(folder, "model.onnx")
    try:
        with torch.no_grad():
            if exporter == "legacy":
                axes = {k: ({0: "batch", 1: "seq"} if kind in ("dec", "enc", "clip_text", "audio") else {0: "batch"})
                        for k in keys}
                axes["last_hidden_state"] = {0: "batch"}
                torch.onnx.export(wrapped, example, path, dynamo=False, opset_version=17, input_names=keys,
                                  output_names=["last_hidden_state"], dynamic_axes=axes)
                info["shapes"] = "dynamic"
            else:
                program = None
                try:
                    bd, sd = torch.export.Dim("batch", min=1, max=64), torch.export.Dim("seq", min=2, max=60)
                    if kind == "audio":
                        sd = torch.export.Dim("samples", min=800, max=16000)
                    dyn = (tuple(({0: bd, 1: sd} if kind != "vision" else {0: bd}) for _ in keys),)
                    program = torch.onnx.export(wrapped, example, dynamo=True, optimize=True, input_names=keys,
                                                output_names=["last_hidden_state"], dynamic_shapes=dyn)
                    info["shapes"] = "dynamic"
                except Exception as e:
                    msg = " | ".join(l.strip() for l in str(e).splitlines() if l.strip() and "step 1/3" not in l and "Next steps" not in l)
                    info["dynamic_error"] = f"{type(e).__name__}: {msg[:700]}"
                    program = torch.onnx.export(wrapped, example, dynamo=True, optimize=True, input_names=keys,
                                                output_names=["last_hidden_state"])
                    info["shapes"] = "static"
                program.save(path, external_data=False)
                m = onnx.load(path)
                for node in m.graph.node:
                    del node.metadata_props[:]
                onnx.save(m, path)
        info["export"] = "ok"
    except Exception as e:
        info["export"] = "failed"
        info["export_error"] = f"{type(e).__name__}: {str(e).strip().splitlines()[0][:400] if str(e).strip() else ''}"
        traceback.print_exc()
        json.dump(info, open(os.path.join(folder, "info.json"), "w"), indent=1)
        return 1
    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    graph_inputs = [i.name for i in sess.get_inputs()]
    info["inputs"] = graph_inputs
    for index, arrays in enumerate(sets):
        d = os.path.join(folder, f"feed{index}")
        os.makedirs(d, exist_ok=True)
        feed = dict(zip(keys, arrays))
        feed = {k: feed[k] for k in graph_inputs}
        for k, a in feed.items():
            np.save(os.path.join(d, f"{k}.npy"), a)
        outs = sess.run(None, feed)
        for o, a in zip(sess.get_outputs(), outs):
            np.save(os.path.join(d, f"ort_{o.name}.npy"), a)
        # torch reference too, for sanity
        with torch.no_grad():
            ref = wrapped(*[torch.from_numpy(a) for a in arrays]).numpy()
        info[f"ort_vs_torch_feed{index}"] = float(np.nanmax(np.abs(ref - outs[0])))
        info[f"ort_nan_feed{index}"] = bool(np.isnan(outs[0]).any())
    json.dump(info, open(os.path.join(folder, "info.json"), "w"), indent=1)
    print(json.dumps(info))
    return 0


if __name__ == "__main__":
    sys.exit(main())
