#!/usr/bin/env python3
"""Exports small random-weight transformers as users get them from Hugging Face, for attnc's tests.

Each model (BERT, GPT-2, Llama, Qwen2, GPT-NeoX, Phi, GPT-J) is built from a tiny config (hidden
32, 2 layers, vocab 100) with fixed seeds, with
`attn_implementation="sdpa"` (the transformers default) and `"eager"`, and exported by the legacy
TorchScript exporter (`dynamo=False`) and, where it works, the dynamo exporter. Next to each
`model.onnx` go ONNX Runtime's outputs in the ONNX test layout (`test_data_set_N/input_i.pb`,
`output_i.pb`, in graph input/output order): set 0 is unpadded, set 1 pads the second sequence
(right padding for BERT, left padding for the decoders, so some decoder query rows see no key).
GPT-2 and Llama are also exported as one step on a KV cache (`<name>_<impl>_kv_<exporter>`):
3 new tokens on 5 cached ones, and 1 new token on 7; `<name>_sdpa_kvpresent_legacy` also returns
the updated cache (a prompt of 5 tokens on an empty cache, and 1 new token on 7).

Low precision (`--low-precision-only`): `bert_float16_legacy` and `bert_float16io32_legacy` are
bert_eager_legacy through ONNX Runtime's float16 converter (keep_io_types False: float16 output;
True: float32 inputs and outputs with Casts inside); `<name>_half_<exporter>` are torch exports of
`model.half()`; `gpt2_bfloat16_legacy` of `model.to(torch.bfloat16)`. ONNX Runtime has no CPU
bfloat16 kernels, so that fixture's outputs are ONNX Runtime's on the same graph with its weights
and casts widened to float32 (exact for bfloat16), then rounded to bfloat16 at the output.

Encoder-decoder (`--encoder-decoder-only`): T5, Whisper, BART and Marian as Optimum's ONNX exporter splits
them (`optimum.exporters.onnx.main_export`, task text2text-generation-with-past or
automatic-speech-recognition-with-past): `<name>_optimum/encoder_model.onnx`, `decoder_model.onnx`
and `decoder_with_past_model.onnx`, with test data in `<name>_optimum/<model>/test_data_set_N`
chained as in generation (the encoder's output feeds the decoders, the decoder's `present.*` the
with-past decoder's `past_key_values.*`). Set 0 is unpadded, set 1 right-pads the second encoder
input (T5, BART, Marian) or is a second audio clip (Whisper). T5 keeps `decoder_model_merged.onnx` (the two
decoders as the branches of an `If` on `use_cache_branch`) with test data for each branch (set 0:
false, the prompt on the zero-length past Optimum feeds; set 1: true, the step); so does
`gpt2_merged_optimum`, a decoder-only model merged the same way. optimum-onnx pins transformers<4.58, so run this part
from a virtual environment: `python3 -m venv --system-site-packages V && V/bin/pip install
optimum-onnx 'optimum~=2.1.0' 'transformers>=4.57,<4.58' && V/bin/python scripts/export_fixtures.py
--encoder-decoder-only`.

Graphs around ONNX Runtime's contrib attention ops (`ortcontrib_*`, from contrib_fixtures.py) go
to the folder `contrib` beside OUT (Tests/Fixtures/contrib); `--contrib-only` writes only them.

Usage: python3 scripts/export_fixtures.py [OUT] [--only NAME[,NAME...]] [--cache-only]
[--ort-only] [--low-precision-only] [--encoder-decoder-only] [--contrib-only]
(OUT defaults to Tests/Fixtures/exports). Re-running gives the same weights and inputs; the ONNX
bytes may differ between torch versions. Needs torch, transformers, onnx, onnxruntime.
"""

import argparse
import os
import shutil
import sys
import traceback

import ml_dtypes
import numpy as np
import onnx
import onnxruntime as ort
import torch
import transformers
from onnx import numpy_helper

BATCH, SEQ, VOCAB = 2, 8, 100


def configs():
    """name → (config class, kwargs, is_decoder)."""
    common = dict(vocab_size=VOCAB, hidden_size=32, num_hidden_layers=2, intermediate_size=64,
                  max_position_embeddings=64)
    return {
        "bert": (transformers.BertConfig, dict(common, num_attention_heads=2), False),
        "gpt2": (transformers.GPT2Config,
                 dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=64, n_inner=64), True),
        "llama": (transformers.LlamaConfig, dict(common, num_attention_heads=4, num_key_value_heads=2), True),
        "qwen2": (transformers.Qwen2Config, dict(common, num_attention_heads=4, num_key_value_heads=2), True),
        # Rotary on the first quarter / half of each 16-wide head, the rest passed through.
        "gpt_neox": (transformers.GPTNeoXConfig, dict(common, num_attention_heads=2, rotary_pct=0.25), True),
        "phi": (transformers.PhiConfig, dict(common, num_attention_heads=2, partial_rotary_factor=0.5), True),
        # Interleaved rotary (rotate_every_two) on the first 8 of each 16-wide head.
        "gptj": (transformers.GPTJConfig,
                 dict(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=64, n_inner=64, rotary_dim=8), True),
    }


class LastHiddenState(torch.nn.Module):
    """The base model with only `last_hidden_state` as output (no cache)."""

    def __init__(self, model):
        super().__init__()
        self.model = model

    def forward(self, input_ids, attention_mask):
        return self.model(input_ids=input_ids, attention_mask=attention_mask, use_cache=False).last_hidden_state


def build(name, implementation):
    config_class, kwargs, _ = configs()[name]
    torch.manual_seed(0)
    config = config_class(**kwargs)
    config._attn_implementation = implementation
    model = transformers.AutoModel.from_config(config, attn_implementation=implementation)
    model.eval()
    return LastHiddenState(model)


def inputs(decoder, padded):
    generator = np.random.default_rng(1)
    ids = generator.integers(1, VOCAB, size=(BATCH, SEQ)).astype(np.int64)
    mask = np.ones((BATCH, SEQ), dtype=np.int64)
    if padded:
        if decoder:
            mask[1, :3] = 0
        else:
            mask[1, -3:] = 0
    return ids, mask


def export(module, path, dynamo, decoder):
    ids, mask = inputs(decoder, padded=True)
    example = (torch.from_numpy(ids), torch.from_numpy(mask))
    names = dict(input_names=["input_ids", "attention_mask"], output_names=["last_hidden_state"])
    if dynamo:
        batch, seq = torch.export.Dim("batch"), torch.export.Dim("seq")
        program = torch.onnx.export(
            module, example, dynamo=True, optimize=True, external_data=False,
            dynamic_shapes={"input_ids": {0: batch, 1: seq}, "attention_mask": {0: batch, 1: seq}}, **names)
        program.save(path, external_data=False)
        strip_node_metadata(path)
    else:
        axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "seq"},
                "last_hidden_state": {0: "batch", 1: "seq"}}
        torch.onnx.export(module, example, path, dynamo=False, opset_version=17, dynamic_axes=axes, **names)


def vit_opset16_legacy(folder):
    """A ViT written as the legacy exporter writes it below opset 17 (like many published ViT
    files): LayerNorm spelled out as ReduceMean/Sub/Pow/ReduceMean/Add/Sqrt/Div. 32x32 images,
    8x8 patches: 17 tokens. Outputs the per-token states and the class-token pooler."""
    torch.manual_seed(0)
    config = transformers.ViTConfig(image_size=32, patch_size=8, hidden_size=32, num_hidden_layers=2,
                                    num_attention_heads=2, intermediate_size=64)
    config._attn_implementation = "eager"
    model = transformers.ViTModel(config).eval()
    path = os.path.join(folder, "model.onnx")
    pixels = np.random.default_rng(1).standard_normal((BATCH, 3, 32, 32)).astype(np.float32)
    with torch.no_grad():
        torch.onnx.export(model, (torch.from_numpy(pixels),), path, dynamo=False, opset_version=16,
                          input_names=["pixel_values"], output_names=["last_hidden_state", "pooler_output"],
                          dynamic_axes={"pixel_values": {0: "batch"}})
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    write_session_data(session, {"pixel_values": pixels}, os.path.join(folder, "test_data_set_0"))


def strip_node_metadata(path):
    """The dynamo exporter puts a stack trace on every node: two thirds of the file. Drop them."""
    model = onnx.load(path)
    for node in model.graph.node:
        del node.metadata_props[:]
    onnx.save(model, path)


def write_test_data(model_path, folder, decoder, model_path_for_names=None):
    """ONNX Runtime's outputs of `model_path` on `inputs(decoder, padded)`; graph input and output
    names and element types from `model_path_for_names` when given (a bfloat16 output is rounded to
    bfloat16)."""
    session = ort.InferenceSession(model_path, providers=["CPUExecutionProvider"])
    graph = onnx.load(model_path_for_names or model_path).graph
    for index, padded in enumerate([False, True]):
        ids, mask = inputs(decoder, padded)
        feeds = {"input_ids": ids, "attention_mask": mask}
        feeds = {i.name: feeds[i.name] for i in graph.input}
        outputs = session.run(None, feeds)
        data = os.path.join(folder, f"test_data_set_{index}")
        os.makedirs(data, exist_ok=True)
        for i, graph_input in enumerate(graph.input):
            tensor = numpy_helper.from_array(feeds[graph_input.name], graph_input.name)
            open(os.path.join(data, f"input_{i}.pb"), "wb").write(tensor.SerializeToString())
        for i, (graph_output, value) in enumerate(zip(graph.output, outputs)):
            if graph_output.type.tensor_type.elem_type == onnx.TensorProto.BFLOAT16 and value.dtype == np.float32:
                value = value.astype(ml_dtypes.bfloat16)
            tensor = numpy_helper.from_array(value, graph_output.name)
            open(os.path.join(data, f"output_{i}.pb"), "wb").write(tensor.SerializeToString())
        if np.isnan(outputs[0]).any():
            print(f"  note: {folder} set {index} has NaN outputs", file=sys.stderr)


class WithCache(torch.nn.Module):
    """A decoder step on a KV cache: `past_key_i`, `past_value_i` ([B, Hkv, past, d]) per layer
    go into a `DynamicCache`; `attention_mask` covers past + new tokens. With `present`, the
    updated cache is returned too (`present_key_i`, `present_value_i`), as generation needs."""

    def __init__(self, model, config, present=False):
        super().__init__()
        self.model, self.config, self.present = model, config, present

    def forward(self, input_ids, attention_mask, *past):
        cache = transformers.DynamicCache(config=self.config)
        for layer in range(self.config.num_hidden_layers):
            cache.update(past[2 * layer], past[2 * layer + 1], layer)
        output = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True)
        if not self.present:
            return output.last_hidden_state
        present = []
        for layer in output.past_key_values.layers:
            present += [layer.keys, layer.values]
        return (output.last_hidden_state, *present)


def cache_inputs(config, past, new, pad):
    """input_ids [2, new], attention_mask [2, past + new] (batch 1 left-padded by `pad`), and the
    per-layer past keys and values."""
    generator = np.random.default_rng(2 + past + new)
    heads = getattr(config, "num_key_value_heads", None) or config.num_attention_heads
    depth = config.hidden_size // config.num_attention_heads
    ids = generator.integers(1, VOCAB, size=(BATCH, new)).astype(np.int64)
    mask = np.ones((BATCH, past + new), dtype=np.int64)
    mask[1, :pad] = 0
    tensors = [generator.standard_normal((BATCH, heads, past, depth)).astype(np.float32)
               for _ in range(2 * config.num_hidden_layers)]
    return [ids, mask] + tensors


def export_with_cache(name, implementation, folder, dynamo, present=False):
    """`<name>_<implementation>_kv_<exporter>`: one step on a KV cache. Set 0 feeds 3 new tokens
    on 5 past ones, set 1 one new token on 7 (a decoding step). With `present`
    (`<name>_<implementation>_kvpresent_<exporter>`) the model also returns the updated cache, and
    set 0 is a prompt of 5 tokens on an empty cache (past length 0)."""
    module = build(name, implementation).model
    config = module.config
    layers = config.num_hidden_layers
    cache_names = [f"{kind}_{layer}" for layer in range(layers) for kind in ("key", "value")]
    names = ["input_ids", "attention_mask"] + [f"past_{n}" for n in cache_names]
    output_names = ["last_hidden_state"] + ([f"present_{n}" for n in cache_names] if present else [])
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
            "last_hidden_state": {0: "batch", 1: "seq"}}
    for input_name in names[2:]:
        axes[input_name] = {0: "batch", 2: "past"}
    for output_name in output_names[1:]:
        axes[output_name] = {0: "batch", 2: "total"}
    path = os.path.join(folder, "model.onnx")
    example = [torch.from_numpy(x) for x in cache_inputs(config, 5, 3, 2)]
    step = WithCache(module, config, present)
    with torch.no_grad():
        if dynamo:
            batch, seq, past, total = (torch.export.Dim(n) for n in ("batch", "seq", "past", "total"))
            shapes = ({0: batch, 1: seq}, {0: batch, 1: total}, tuple({0: batch, 2: past} for _ in names[2:]))
            program = torch.onnx.export(step, tuple(example), dynamo=True, optimize=True,
                                        dynamic_shapes=shapes, input_names=names, output_names=output_names)
            program.save(path, external_data=False)
            strip_node_metadata(path)
        else:
            torch.onnx.export(step, tuple(example), path, dynamo=False, opset_version=17,
                              input_names=names, output_names=output_names, dynamic_axes=axes)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    for index, (past, new, pad) in enumerate([(0, 5, 2) if present else (5, 3, 2), (7, 1, 3)]):
        feeds = dict(zip(names, cache_inputs(config, past, new, pad)))
        outputs = session.run(None, feeds)
        data = os.path.join(folder, f"test_data_set_{index}")
        os.makedirs(data, exist_ok=True)
        for i, input_name in enumerate(names):
            tensor = numpy_helper.from_array(feeds[input_name], input_name)
            open(os.path.join(data, f"input_{i}.pb"), "wb").write(tensor.SerializeToString())
        for i, (output_name, value) in enumerate(zip(output_names, outputs)):
            tensor = numpy_helper.from_array(value, output_name)
            open(os.path.join(data, f"output_{i}.pb"), "wb").write(tensor.SerializeToString())


def ort_optimized(source_folder, folder, num_heads, hidden_size, attention, embeddings=False):
    """The BERT export as ONNX Runtime's transformers optimizer rewrites it (the form many
    published ONNX files have): SkipLayerNormalization, BiasGelu, and with `attention` its
    contrib Attention (packed QKV weights, a [B, S] key mask), with `embeddings` its
    EmbedLayerNormalization (whose mask_index, [B] key lengths, the Attention nodes read)."""
    from onnxruntime.transformers import optimizer
    from onnxruntime.transformers.fusion_options import FusionOptions
    options = FusionOptions("bert")
    options.enable_attention = attention
    options.enable_embed_layer_norm = embeddings
    model = optimizer.optimize_model(os.path.join(source_folder, "model.onnx"), model_type="bert",
                                     num_heads=num_heads, hidden_size=hidden_size, opt_level=1,
                                     optimization_options=options)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    model.save_model_to_file(path)
    write_test_data(path, folder, decoder=False)


def quantized_dynamic(source_folder, folder, decoder, per_channel=False):
    """`onnxruntime.quantization.quantize_dynamic` (int8 weights, uint8 activations quantized at
    run time: DynamicQuantizeLinear → MatMulInteger → Cast → Mul per linear layer, Gather tables
    through DequantizeLinear), the `model_quantized.onnx` hubs ship; per-column weight scales with
    `per_channel`."""
    from onnxruntime.quantization import QuantType, quantize_dynamic
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    quantize_dynamic(os.path.join(source_folder, "model.onnx"), path, weight_type=QuantType.QInt8, per_channel=per_channel)
    write_test_data(path, folder, decoder)


def quantized_ort_optimized(source_folder, folder):
    """The dynamically quantized model as ONNX Runtime's own graph optimizer (extended level)
    saves it: DynamicQuantizeMatMul and DynamicQuantizeLinear → MatMulIntegerToFloat, with
    SkipLayerNormalization and Gelu. Its MatMul+scale fusion (com.microsoft.FusedMatMul, which
    attnc does not read) is left out."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    options = ort.SessionOptions()
    options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED
    options.optimized_model_filepath = path
    ort.InferenceSession(os.path.join(source_folder, "model.onnx"), options, providers=["CPUExecutionProvider"],
                         disabled_optimizers=["MatMulScaleFusion"])
    write_test_data(path, folder, decoder=False)


def quantized_static(source_folder, folder, decoder):
    """`quantize_static` in the QDQ format (int8 weights per column, activations quantized with
    scales calibrated on the fixture's own inputs): QuantizeLinear → DequantizeLinear pairs
    around each linear layer. The attention products (scores and probabilities times values)
    are left in float32, as is usual for transformers: a QDQ pair on the probabilities would
    sit between Softmax and its MatMul, where attnc does not match attention."""
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static

    class Reader(CalibrationDataReader):
        def __init__(self):
            self.feeds = iter([dict(zip(("input_ids", "attention_mask"), inputs(decoder, padded))) for padded in (False, True)])

        def get_next(self):
            return next(self.feeds, None)

    source = os.path.join(source_folder, "model.onnx")
    attention = [n.name for n in onnx.load(source).graph.node
                 if n.op_type == "MatMul" and all(i not in {t.name for t in onnx.load(source).graph.initializer} for i in n.input)]
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    quantize_static(source, path, Reader(), quant_format=QuantFormat.QDQ, activation_type=QuantType.QInt8,
                    weight_type=QuantType.QInt8, per_channel=True, op_types_to_quantize=["MatMul"],
                    nodes_to_exclude=attention)
    write_test_data(path, folder, decoder)


def quantized_nbits(source_folder, folder, decoder):
    """ONNX Runtime's weight-only 4-bit quantizer (`matmul_nbits_quantizer`, RTN, blocks of 32
    along K, asymmetric so the zero points are stored): each linear layer one
    com.microsoft.MatMulNBits."""
    from onnxruntime.quantization.matmul_nbits_quantizer import MatMulNBitsQuantizer
    quantizer = MatMulNBitsQuantizer(onnx.load(os.path.join(source_folder, "model.onnx")), bits=4, block_size=32,
                                     is_symmetric=False)
    quantizer.process()
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "model.onnx")
    quantizer.model.save_model_to_file(path)
    write_test_data(path, folder, decoder)

def float16_converted(source_folder, folder, keep_io_types):
    """bert_eager_legacy through ONNX Runtime's float16 converter (`model_fp16.onnx` as hubs ship
    it): weights and compute in float16; with keep_io_types the inputs and outputs stay float32."""
    from onnxruntime.transformers.float16 import convert_float_to_float16
    model = convert_float_to_float16(onnx.load(os.path.join(source_folder, "model.onnx")), keep_io_types=keep_io_types)
    path = os.path.join(folder, "model.onnx")
    onnx.save(model, path)
    write_test_data(path, folder, decoder=False)


def widened_to_float32(model):
    """A copy of `model` computing in float32: bfloat16 initializers, Constant values, Cast targets
    and outputs become float32 (exact: every bfloat16 is a float32).
    Only the reference for the bfloat16 fixture, which ONNX Runtime cannot run on CPU."""
    from onnx import TensorProto
    model = onnx.ModelProto.FromString(model.SerializeToString())
    graph = model.graph
    narrow = TensorProto.BFLOAT16

    def widen(tensor):
        if tensor.data_type != narrow:
            return tensor
        return numpy_helper.from_array(numpy_helper.to_array(tensor).astype(np.float32), tensor.name)

    for index, tensor in enumerate(graph.initializer):
        graph.initializer[index].CopyFrom(widen(tensor))
    for node in graph.node:
        for attribute in node.attribute:
            if attribute.type == onnx.AttributeProto.TENSOR:
                attribute.t.CopyFrom(widen(attribute.t))
            if node.op_type == "Cast" and attribute.name == "to" and attribute.i == narrow:
                attribute.i = TensorProto.FLOAT
    for output in graph.output:
        if output.type.tensor_type.elem_type == narrow:
            output.type.tensor_type.elem_type = TensorProto.FLOAT
    del graph.value_info[:]
    return model


def torch_low_precision(name, dtype, folder, dynamo):
    """`<name>_half_<exporter>` / `<name>_bfloat16_<exporter>`: the eager model cast to `dtype`
    and exported as it is (weights, compute and output in that type)."""
    _, _, decoder = configs()[name]
    module = build(name, "eager").to(dtype)
    path = os.path.join(folder, "model.onnx")
    with torch.no_grad():
        export(module, path, dynamo, decoder)
    if dtype == torch.bfloat16:
        reference = os.path.join(folder, "reference_float32.onnx")
        onnx.save(widened_to_float32(onnx.load(path)), reference)
        write_test_data(reference, folder, decoder, model_path_for_names=path)
        os.remove(reference)
    else:
        write_test_data(path, folder, decoder)


def encoder_decoder_configs():
    """name → (model class, config, task). Tiny random configs: hidden 32, 2 heads, 2 layers each
    side, vocab 100; Whisper reads 8 mel bins over 32 frames."""
    return {
        "t5": (transformers.T5ForConditionalGeneration, transformers.T5Config(
            vocab_size=VOCAB, d_model=32, d_kv=16, d_ff=64, num_layers=2, num_decoder_layers=2, num_heads=2,
            relative_attention_num_buckets=8, relative_attention_max_distance=16, decoder_start_token_id=0,
            pad_token_id=0, eos_token_id=1), "text2text-generation-with-past"),
        "bart": (transformers.BartForConditionalGeneration, transformers.BartConfig(
            vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, max_position_embeddings=64),
            "text2text-generation-with-past"),
        "whisper": (transformers.WhisperForConditionalGeneration, transformers.WhisperConfig(
            vocab_size=VOCAB, num_mel_bins=8, encoder_layers=2, decoder_layers=2, encoder_attention_heads=2,
            decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64, d_model=32, max_source_positions=16,
            max_target_positions=32, decoder_start_token_id=1, pad_token_id=0, eos_token_id=2, bos_token_id=1,
            suppress_tokens=[], begin_suppress_tokens=[]), "automatic-speech-recognition-with-past"),
        "marian": (transformers.MarianMTModel, transformers.MarianConfig(
            vocab_size=VOCAB, decoder_vocab_size=VOCAB, d_model=32, encoder_layers=2, decoder_layers=2,
            encoder_attention_heads=2, decoder_attention_heads=2, encoder_ffn_dim=64, decoder_ffn_dim=64,
            max_position_embeddings=64, pad_token_id=0, decoder_start_token_id=0, eos_token_id=1),
            "text2text-generation-with-past"),
    }


def encoder_decoder(name, folder):
    """`<name>_optimum`: Optimum's split export and chained test data (see the module comment)."""
    import tempfile
    from optimum.exporters.onnx import main_export
    model_class, config, task = encoder_decoder_configs()[name]
    torch.manual_seed(0)
    model = model_class(config).eval()
    with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory() as exported:
        model.save_pretrained(source)
        main_export(source, output=exported, task=task, do_validation=False, nb_max_frames=32)
        for part in ["encoder_model", "decoder_model", "decoder_with_past_model"] + (["decoder_model_merged"] if name == "t5" else []):
            shutil.copy(os.path.join(exported, f"{part}.onnx"), os.path.join(folder, f"{part}.onnx"))
    sessions = {part: ort.InferenceSession(os.path.join(folder, f"{part}.onnx"), providers=["CPUExecutionProvider"])
                for part in ["encoder_model", "decoder_model", "decoder_with_past_model"]}
    for index in range(2):
        generator = np.random.default_rng(10 + index)
        if name == "whisper":
            encoder_feeds = {"input_features": generator.standard_normal((BATCH, 8, 32)).astype(np.float32)}
            mask = None
        else:
            mask = np.ones((BATCH, 6), dtype=np.int64)
            if index == 1:
                mask[1, -2:] = 0
            encoder_feeds = {"input_ids": generator.integers(2, VOCAB, size=(BATCH, 6)).astype(np.int64),
                             "attention_mask": mask}
        (states,) = sessions["encoder_model"].run(None, encoder_feeds)
        decoder_ids = generator.integers(2, VOCAB, size=(BATCH, 4)).astype(np.int64)
        decoder_feeds = {"input_ids": decoder_ids, "encoder_hidden_states": states, "encoder_attention_mask": mask}
        decoder_outputs = write_session_data(sessions["decoder_model"], decoder_feeds,
                                             os.path.join(folder, "decoder_model", f"test_data_set_{index}"))
        past = {output.name.replace("present", "past_key_values"): value
                for output, value in zip(sessions["decoder_model"].get_outputs(), decoder_outputs)
                if output.name.startswith("present")}
        step_feeds = dict(past, input_ids=generator.integers(2, VOCAB, size=(BATCH, 1)).astype(np.int64),
                          encoder_attention_mask=mask)
        write_session_data(sessions["decoder_with_past_model"], step_feeds,
                           os.path.join(folder, "decoder_with_past_model", f"test_data_set_{index}"))
        if name == "t5" and index == 0:
            # The merged decoder: set 0 the else branch (the prompt, on the zero-length dummy
            # past Optimum feeds), set 1 the then branch (the step on the prompt's cache).
            merged = ort.InferenceSession(os.path.join(folder, "decoder_model_merged.onnx"),
                                          providers=["CPUExecutionProvider"])
            empty = {i.name: np.zeros((BATCH, 2, 0, 16), np.float32) for i in merged.get_inputs()
                     if i.name.startswith("past_key_values")}
            for data_index, feeds in enumerate([dict(empty, use_cache_branch=np.array([False]), **decoder_feeds),
                                                dict(step_feeds, encoder_hidden_states=states,
                                                     use_cache_branch=np.array([True]))]):
                write_session_data(merged, feeds, os.path.join(folder, "decoder_model_merged", f"test_data_set_{data_index}"))
        write_session_data(sessions["encoder_model"], encoder_feeds,
                           os.path.join(folder, "encoder_model", f"test_data_set_{index}"))


def gpt2_merged(folder):
    """`gpt2_merged_optimum/decoder_model_merged.onnx`: a tiny GPT-2 as Optimum merged decoder-only
    models before it exported them as one file with past inputs: the decoder without past (returning
    `present.*`) and the one with past, the two branches of an `If` on `use_cache_branch`
    (`optimum.onnx.merge_decoders`, which Optimum's exporter still runs for encoder-decoder models).
    Set 0 is the prompt (5 tokens, the second row left-padded by 2) on the else branch with the
    zero-length past Optimum feeds; set 1 one new token on the then branch, on set 0's cache."""
    import tempfile
    from optimum.exporters.onnx import main_export
    from optimum.exporters.tasks import TasksManager
    from optimum.onnx import merge_decoders
    torch.manual_seed(0)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=32, n_layer=2, n_head=2, n_positions=64)
    model = transformers.GPT2LMHeadModel(config).eval()
    path = os.path.join(folder, "decoder_model_merged.onnx")
    with tempfile.TemporaryDirectory() as source, tempfile.TemporaryDirectory() as plain, \
            tempfile.TemporaryDirectory() as cached:
        model.save_pretrained(source)
        constructor = TasksManager.get_exporter_config_constructor(
            "onnx", task="text-generation-with-past", model_type="gpt2", library_name="transformers")
        without_past = constructor(model.config, task="text-generation", use_past=True, use_past_in_inputs=False)
        main_export(source, output=plain, task="text-generation-with-past", do_validation=False,
                    custom_onnx_configs={"model": without_past})
        main_export(source, output=cached, task="text-generation-with-past", do_validation=False)
        merge_decoders(os.path.join(plain, "model.onnx"), os.path.join(cached, "model.onnx"), save_path=path)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    generator = np.random.default_rng(30)
    mask = np.ones((BATCH, 5), dtype=np.int64)
    mask[1, :2] = 0
    positions = np.where(mask == 0, 1, np.cumsum(mask, axis=1) - 1)
    empty = {i.name: np.zeros((BATCH, 2, 0, 16), np.float32) for i in session.get_inputs() if i.name.startswith("past")}
    prompt = dict(empty, input_ids=generator.integers(2, VOCAB, size=(BATCH, 5)).astype(np.int64),
                  attention_mask=mask, position_ids=positions, use_cache_branch=np.array([False]))
    outputs = write_session_data(session, prompt, os.path.join(folder, "decoder_model_merged", "test_data_set_0"))
    past = {output.name.replace("present", "past_key_values"): value
            for output, value in zip(session.get_outputs(), outputs) if output.name.startswith("present")}
    step_mask = np.concatenate([mask, np.ones((BATCH, 1), dtype=np.int64)], axis=1)
    step = dict(past, input_ids=generator.integers(2, VOCAB, size=(BATCH, 1)).astype(np.int64), attention_mask=step_mask,
                position_ids=np.cumsum(step_mask, axis=1)[:, -1:] - 1, use_cache_branch=np.array([True]))
    write_session_data(session, step, os.path.join(folder, "decoder_model_merged", "test_data_set_1"))


def write_session_data(session, feeds, data):
    """Runs `session` on the feeds it takes (in its input order) and writes inputs and outputs in
    the ONNX test layout; returns the outputs."""
    feeds = {i.name: feeds[i.name] for i in session.get_inputs()}
    outputs = session.run(None, feeds)
    os.makedirs(data, exist_ok=True)
    for i, (name, value) in enumerate(feeds.items()):
        open(os.path.join(data, f"input_{i}.pb"), "wb").write(numpy_helper.from_array(value, name).SerializeToString())
    for i, (output, value) in enumerate(zip(session.get_outputs(), outputs)):
        open(os.path.join(data, f"output_{i}.pb"), "wb").write(numpy_helper.from_array(value, output.name).SerializeToString())
    return outputs


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("out", nargs="?", default=os.path.join(os.path.dirname(__file__), "..", "Tests", "Fixtures", "exports"))
    parser.add_argument("--only", default="")
    parser.add_argument("--cache-only", action="store_true", help="only the KV-cache exports")
    parser.add_argument("--ort-only", action="store_true", help="only the ONNX Runtime-optimized BERT (from bert_eager_legacy)")
    parser.add_argument("--quantized-only", action="store_true",
                        help="only the quantized models (from bert_eager_legacy, gpt2_eager_legacy, llama_sdpa_legacy)")
    parser.add_argument("--low-precision-only", action="store_true", help="only the float16 and bfloat16 exports")
    parser.add_argument("--encoder-decoder-only", action="store_true",
                        help="only Optimum's encoder-decoder splits (needs optimum-onnx, see above)")
    parser.add_argument("--contrib-only", action="store_true",
                        help="only the graphs around ONNX Runtime's contrib attention ops (contrib_fixtures.py)")
    args = parser.parse_args()
    torch.set_num_threads(1)
    only = set(filter(None, args.only.split(",")))
    failures = []
    low_or_encdec = args.low_precision_only or args.encoder_decoder_only

    def produce(fixture, make, out=args.out):
        """Writes one fixture folder with `make(folder)`; an exporter or optimizer that cannot
        handle a model is recorded and the others go on."""
        folder = os.path.join(out, fixture)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        try:
            make(folder)
            print(f"exported {fixture}", file=sys.stderr)
        except Exception as error:
            shutil.rmtree(folder, ignore_errors=True)
            failures.append((fixture, f"{type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''}"))
            traceback.print_exc(limit=2)

    def plain(name, implementation, dynamo, decoder):
        def make(folder):
            path = os.path.join(folder, "model.onnx")
            module = build(name, implementation)
            with torch.no_grad():
                export(module, path, dynamo, decoder)
            write_test_data(path, folder, decoder)
        return make

    import contrib_fixtures
    # Beside OUT: Tests/Fixtures/contrib.
    contrib_out = os.path.join(os.path.dirname(os.path.normpath(args.out)), "contrib")
    for fixture, make in contrib_fixtures.FIXTURES.items():
        if args.contrib_only or not (only or args.cache_only or args.ort_only or low_or_encdec or args.quantized_only) or fixture in only:
            produce(fixture, make, contrib_out)
    for name, (_, _, decoder) in configs().items():
        if args.contrib_only:
            break
        if (only and name not in only) or args.cache_only or args.ort_only or low_or_encdec or args.quantized_only:
            continue
        for implementation in ["sdpa", "eager"]:
            for dynamo in [False, True]:
                produce(f"{name}_{implementation}_{'dynamo' if dynamo else 'legacy'}",
                        plain(name, implementation, dynamo, decoder))
    for name in ["gpt2", "llama"]:
        if (only and name not in only) or args.ort_only or low_or_encdec or args.quantized_only or args.contrib_only:
            continue
        for implementation in ["sdpa", "eager"]:
            for dynamo in [False, True]:
                produce(f"{name}_{implementation}_kv_{'dynamo' if dynamo else 'legacy'}",
                        lambda folder, n=name, i=implementation, d=dynamo: export_with_cache(n, i, folder, d))
        # A prompt on an empty cache and a decoding step, the present cache returned.
        produce(f"{name}_sdpa_kvpresent_legacy",
                lambda folder, n=name: export_with_cache(n, "sdpa", folder, False, present=True))
    if not args.cache_only and not low_or_encdec and not args.quantized_only and not args.contrib_only and (not only or "bert" in only):
        source = os.path.join(args.out, "bert_eager_legacy")
        for fixture, attention, embeddings in [("bert_ortopt_legacy", False, False),
                                               ("bert_ortopt_attention_legacy", True, False),
                                               ("bert_ortopt_full_legacy", True, True)]:
            produce(fixture, lambda folder, a=attention, e=embeddings: ort_optimized(
                source, folder, num_heads=2, hidden_size=32, attention=a, embeddings=e))
    if not args.cache_only and not args.ort_only and not low_or_encdec:
        for fixture, source, decoder, make in [
            ("bert_int8_dynamic_legacy", "bert_eager_legacy", False, quantized_dynamic),
            ("gpt2_int8_dynamic_channel_legacy", "gpt2_eager_legacy", True,
             lambda s, f, d: quantized_dynamic(s, f, d, per_channel=True)),
            ("llama_int8_dynamic_legacy", "llama_sdpa_legacy", True, quantized_dynamic),
            ("bert_int8_static_qdq_legacy", "bert_eager_legacy", False, quantized_static),
            ("bert_int4_nbits_legacy", "bert_eager_legacy", False, quantized_nbits),
            ("bert_int8_ortopt_legacy", "bert_int8_dynamic_legacy", False, lambda s, f, d: quantized_ort_optimized(s, f)),
        ]:
            if only and fixture.split("_")[0] not in only:
                continue
            produce(fixture, lambda folder, s=os.path.join(args.out, source), d=decoder, m=make: m(s, folder, d))
    if not args.cache_only and not args.ort_only and not args.encoder_decoder_only and not args.quantized_only and (not only or "bert" in only):
        source = os.path.join(args.out, "bert_eager_legacy")
        for fixture, keep in [("bert_float16_legacy", False), ("bert_float16io32_legacy", True)]:
            produce(fixture, lambda folder, k=keep: float16_converted(source, folder, keep_io_types=k))
    if not args.cache_only and not args.ort_only and not args.encoder_decoder_only and not args.quantized_only:
        for name, dtype, dynamo in [("bert", torch.float16, False), ("bert", torch.float16, True),
                                    ("gpt2", torch.float16, False), ("gpt2", torch.float16, True),
                                    ("gpt2", torch.bfloat16, False)]:
            if only and name not in only:
                continue
            kind = "half" if dtype == torch.float16 else "bfloat16"
            produce(f"{name}_{kind}_{'dynamo' if dynamo else 'legacy'}",
                    lambda folder, n=name, t=dtype, d=dynamo: torch_low_precision(n, t, folder, d))
    if not (args.cache_only or args.ort_only or low_or_encdec or args.quantized_only or args.contrib_only) and (not only or "vit" in only):
        produce("vit_opset16_legacy", vit_opset16_legacy)
    if args.encoder_decoder_only:
        for name in encoder_decoder_configs():
            if not only or name in only:
                produce(f"{name}_optimum", lambda folder, n=name: encoder_decoder(n, folder))
        if not only or "gpt2" in only:
            produce("gpt2_merged_optimum", gpt2_merged)
    for fixture, reason in failures:
        print(f"not exported {fixture}: {reason}", file=sys.stderr)


if __name__ == "__main__":
    main()
