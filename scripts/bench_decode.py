#!/usr/bin/env python3
"""Decoding with a KV cache: attnc next to ONNX Runtime on the same model, in the same run.

The model is a GPT-2-sized decoder (hidden 768, 12 heads, 2 layers, vocabulary 1000, random
weights, Hugging Face `sdpa` attention) exported by the legacy torch exporter with its cache:
inputs `input_ids [B, S]`, `attention_mask [B, past + S]`, `past_key_i`, `past_value_i`
(`[B, 12, past, 64]`); outputs `logits` and `present_key_i`, `present_value_i`. It is written once
to --cache (75 MB; not part of the repository). Both sides prefill --prefill tokens (an empty
past), then run --steps single-token steps, feeding each step's present keys and values back as
the next step's past and its greedy token as the next input. ONNX Runtime keeps the cache in
OrtValues between steps (`run_with_ort_values`, no copies through numpy), its fastest form of this
loop; attnc runs `attnc bench decode` (the same loop inside one process). Rounds alternate the
two, so that load from other work on a shared machine hits both sides; the table shows medians
over rounds and the range of the per-round ratios.

  python3 scripts/bench_decode.py --attnc .build/release/attnc --prefill 2048 --steps 32

Needs torch and transformers (for the export only), onnx, onnxruntime and numpy.
"""
import argparse, json, os, subprocess, sys, time

import numpy as np

LAYERS, HEADS, HIDDEN, VOCAB = 2, 12, 768, 1000


def export(folder, max_positions):
    """Writes `folder/model.onnx` (skipped when it exists)."""
    path = os.path.join(folder, "model.onnx")
    if os.path.exists(path):
        return path
    import torch, transformers
    os.makedirs(folder, exist_ok=True)
    config = transformers.GPT2Config(vocab_size=VOCAB, n_embd=HIDDEN, n_layer=LAYERS, n_head=HEADS,
                                     n_positions=max_positions, n_inner=4 * HIDDEN)
    config._attn_implementation = "sdpa"
    torch.manual_seed(0)
    model = transformers.GPT2LMHeadModel(config).eval()

    class Step(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.model = model

        def forward(self, input_ids, attention_mask, *past):
            cache = transformers.DynamicCache(config=config)
            for layer in range(LAYERS):
                cache.update(past[2 * layer], past[2 * layer + 1], layer)
            output = self.model(input_ids=input_ids, attention_mask=attention_mask, past_key_values=cache, use_cache=True)
            present = []
            for layer in output.past_key_values.layers:
                present += [layer.keys, layer.values]
            return (output.logits, *present)

    past_names = [f"past_{kind}_{layer}" for layer in range(LAYERS) for kind in ("key", "value")]
    present_names = [name.replace("past", "present") for name in past_names]
    axes = {"input_ids": {0: "batch", 1: "seq"}, "attention_mask": {0: "batch", 1: "total"},
            "logits": {0: "batch", 1: "seq"}}
    axes.update({name: {0: "batch", 2: "past"} for name in past_names})
    axes.update({name: {0: "batch", 2: "total"} for name in present_names})
    depth = HIDDEN // HEADS
    example = [torch.randint(0, VOCAB, (1, 3)), torch.ones(1, 8, dtype=torch.int64)]
    example += [torch.randn(1, HEADS, 5, depth) for _ in past_names]
    partial = path + ".partial"
    with torch.no_grad():
        torch.onnx.export(Step(), tuple(example), partial, dynamo=False, opset_version=17,
                          input_names=["input_ids", "attention_mask"] + past_names,
                          output_names=["logits"] + present_names, dynamic_axes=axes)
    os.replace(partial, path)
    return path


def ort_decode(session, prefill, steps, repeat):
    """Prefill time (median of `repeat` runs, ms) and the per-step times of `steps` decode steps."""
    import onnxruntime as ort
    names = [i.name for i in session.get_inputs()]
    outputs = [o.name for o in session.get_outputs()]
    depth = HIDDEN // HEADS
    rng = np.random.default_rng(0)
    ids = rng.integers(0, VOCAB, size=(1, prefill), dtype=np.int64)
    feeds = {"input_ids": ids, "attention_mask": np.ones((1, prefill), np.int64)}
    for name in names[2:]:
        feeds[name] = np.zeros((1, HEADS, 0, depth), np.float32)
    values = {k: ort.OrtValue.ortvalue_from_numpy(v) for k, v in feeds.items()}
    prefill_times = []
    for _ in range(repeat + 1):
        start = time.perf_counter()
        result = session.run_with_ort_values(outputs, values)
        prefill_times.append((time.perf_counter() - start) * 1e3)
    step_times = []
    for step in range(steps):
        token = int(np.argmax(result[0].numpy()[0, -1]))
        values = {"input_ids": ort.OrtValue.ortvalue_from_numpy(np.array([[token]], np.int64)),
                  "attention_mask": ort.OrtValue.ortvalue_from_numpy(np.ones((1, prefill + step + 1), np.int64))}
        for name, value in zip(names[2:], result[1:]):
            values[name] = value
        start = time.perf_counter()
        result = session.run_with_ort_values(outputs, values)
        step_times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(prefill_times[1:])), step_times


def attnc_decode(attnc, model, prefill, steps, threads, repeat):
    command = [attnc, "bench", "decode", model, "--prefill", str(prefill), "--steps", str(steps),
               "--threads", str(threads), "--repeat", str(repeat), "--format", "json"]
    report = json.loads(subprocess.run(command, check=True, capture_output=True, text=True).stdout)
    return report["prefill_median_ms"], report["step_ms"]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--attnc", default=".build/release/attnc")
    parser.add_argument("--cache", default=os.path.expanduser("~/.cache/attnc/decode"))
    parser.add_argument("--prefill", type=int, nargs="+", default=[2048])
    parser.add_argument("--steps", type=int, default=32)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeat", type=int, default=3, help="prefill runs per round (the median is kept)")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    import onnxruntime as ort
    model = export(os.path.join(args.cache, "gpt2_768_l2_kv"), max(args.prefill) + args.steps + 64)
    options = ort.SessionOptions()
    options.intra_op_num_threads = args.threads
    options.inter_op_num_threads = 1
    session = ort.InferenceSession(model, options, providers=["CPUExecutionProvider"])
    print(f"model {model}, {args.threads} threads, {args.steps} decode steps after the prefill, {args.rounds} alternating rounds")
    print("| prefill P | ORT prefill (ms) | attnc prefill (ms) | attnc / ORT | range | ORT step (ms) | attnc step (ms) "
          "| attnc / ORT | range | ORT tokens/s | attnc tokens/s |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for prefill in args.prefill:
        ort_prefill, ort_step, attnc_prefill, attnc_step = [], [], [], []
        for _ in range(args.rounds):
            p, steps = ort_decode(session, prefill, args.steps, args.repeat)
            ort_prefill.append(p)
            ort_step.append(float(np.median(steps)))
            p, steps = attnc_decode(args.attnc, model, prefill, args.steps, args.threads, args.repeat)
            attnc_prefill.append(p)
            attnc_step.append(float(np.median(steps)))
        prefill_ratios = [a / o for a, o in zip(attnc_prefill, ort_prefill)]
        step_ratios = [a / o for a, o in zip(attnc_step, ort_step)]
        o_p, a_p, o_s, a_s = (float(np.median(x)) for x in (ort_prefill, attnc_prefill, ort_step, attnc_step))
        print(f"| {prefill} | {o_p:.1f} | {a_p:.1f} | {np.median(prefill_ratios):.3f}x | "
              f"{min(prefill_ratios):.3f}–{max(prefill_ratios):.3f} | {o_s:.2f} | {a_s:.2f} | "
              f"{np.median(step_ratios):.3f}x | {min(step_ratios):.3f}–{max(step_ratios):.3f} | "
              f"{1e3 / o_s:.0f} | {1e3 / a_s:.0f} |", flush=True)


if __name__ == "__main__":
    sys.exit(main())
