#!/usr/bin/env python3
"""attnc's exact plans next to ONNX Runtime and OpenVINO over a zoo of exports (issue #21).

For every model and length: ONNX Runtime (default graph optimizations), OpenVINO with
INFERENCE_PRECISION_HINT=f32 (the exact comparison), OpenVINO at its default precision (bf16 on
CPUs with AVX-512 BF16 / AMX; its output error against ONNX Runtime is printed beside it) and
`attnc bench` on the plan `attnc convert --policy exact` wrote, all on --threads threads, on the
same input shapes (bench_common.py: ids below the model's vocabulary, all-ones masks, normal
floats; attnc draws its own values of the same shapes). --policy balanced (or fastest) times the
plan that policy writes instead (calibrated on generated inputs, as a user without data gets it):
set it against OpenVINO's default precision, the peer that also trades accuracy for time; every
row gives attnc's output error against ONNX Runtime on the peers' inputs beside OpenVINO's. The four run in turn, --rounds times, so
that load from other work on a shared machine hits all of them; the table shows the median over
rounds of each one's median of --repeat runs (fewer, at least 2, where one run is longer than
--budget / --repeat), the ratios of those medians, the fused attention's rate in the model
(its cost formula's FLOPs over its time) and attnc's three slowest kernels (ms in one profiled
run after the timed ones, from `attnc bench --format json`).

The zoo (missing parts are skipped with a note):
  ../shared/models/*                 token models at 128 and 512, vit_tiny at its fixed 64x64
  /tmp/attnc-real/vit_s_focus        the real ViT-S/14 at 224 and 896 (bash ../shared/tools/real-models.sh)
  Tests/Fixtures/exports/*           tiny random exports at 16 and 64 tokens (their position tables
                                     end at 64); KV-cache steps as one new token on 15 / 63 cached
  /tmp/attnc-zoo/*                   T5 and Whisper encoders, DistilBERT, RoBERTa, DeiT
                                     (python3 scripts/zoo_models.py)

  python3 scripts/bench_zoo.py [--models t5,vit_s] [--lengths 128,512] [--rounds 3] [--json zoo.json]
  python3 scripts/bench_zoo.py --policy balanced --models bert_mini,t5_encoder,vit_s
"""
import argparse
import glob
import json
import os
import statistics
import sys
import tempfile

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench_common as common  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


class Entry:
    """One zoo model: where it is, its lengths, and the extra symbol bindings per length."""

    def __init__(self, name, path, lengths, kv=False):
        self.name, self.path, self.lengths, self.kv = name, path, lengths, kv

    def overrides(self, n):
        # A KV-cache step: one new token on n - 1 cached ones.
        if self.kv:
            return {"seq": 1, "past": n - 1, "total": n}
        # An image model's length is its image side: bind the input's size symbols to it
        # (`attnc bench --seq N` means N tokens, which a ViT reaches at another image size).
        if "vit" in self.name or "deit" in self.name:
            import onnx
            model = onnx.load(self.path, load_external_data=False)
            return {d.dim_param: n for i in model.graph.input for d in i.type.tensor_type.shape.dim
                    if d.dim_param and "batch" not in d.dim_param.lower()}
        return {}


def zoo(shared, real, cache):
    entries = []
    for folder in sorted(glob.glob(os.path.join(shared, "models", "*"))):
        name = os.path.basename(folder)
        entries.append(Entry(name, os.path.join(folder, "model.onnx"), [64] if name.startswith("vit") else [128, 512]))
    entries.append(Entry("vit_s_focus (real)", os.path.join(real, "vit_s_focus", "model.onnx"), [224, 896]))
    for folder in sorted(glob.glob(os.path.join(ROOT, "Tests", "Fixtures", "exports", "*"))):
        name = os.path.basename(folder)
        if name.endswith("_optimum"):
            # Optimum's splits: the encoder and the first decoder call (no cache) at each length;
            # the merged decoders need `--branch` (tests/bench_decode.py measure those).
            for part in ("encoder_model", "decoder_model"):
                path = os.path.join(folder, part + ".onnx")
                if os.path.exists(path):
                    # Whisper's decoder positions end before 64 tokens.
                    entries.append(Entry(f"{name}/{part}", path, [16, 32] if "whisper" in name else [16, 64]))
            continue
        entries.append(Entry(name, os.path.join(folder, "model.onnx"), [16, 64], kv="_kv" in name))
    lengths = {"t5_encoder_dynamo": [128, 1500], "whisper_encoder_dynamo": [1500], "deit_legacy": [224],
               "distilbert_legacy": [128, 512], "roberta_legacy": [128, 512]}
    for name, ns in lengths.items():
        entries.append(Entry(name, os.path.join(cache, name, "model.onnx"), ns))
    return entries


def symbolic(model):
    return any(isinstance(d, str) and "batch" not in d for _, _, dims in common.graph_inputs(model) for d in dims)


def top_kernels(result, count=3):
    kernels = sorted(result.get("kernel_ms", {}).items(), key=lambda kv: -kv[1])[:count]
    return ", ".join(f"{k} {v:.2f}" for k, v in kernels)


def attention_rate(result):
    """The fused attention's GFLOP/s in the profiled run (its cost formula's FLOPs over its ms)."""
    ms, gflop = result.get("kernel_ms", {}).get("FusedAttention"), result.get("kernel_gflop", {}).get("FusedAttention")
    return gflop / ms * 1e3 if ms and gflop else None


def bench_row(entry, n, args, plan, rng):
    overrides = entry.overrides(n)
    feeds = common.make_feeds(entry.path, n, rng, overrides=overrides)
    shape = " ".join(f"{k}={'x'.join(map(str, v.shape))}" for k, v in feeds.items())
    session = common.ort_session(entry.path, feeds, args.threads)
    reference = session.run(None, feeds)
    ov32, ov32_request = common.openvino_request(entry.path, feeds, args.threads, "f32")
    ovd, ovd_request = common.openvino_request(entry.path, feeds, args.threads)
    ovd_error = common.relative_error(common.openvino_outputs(ovd_request, feeds)[0], reference[0])
    ov32_error = common.relative_error(common.openvino_outputs(ov32_request, feeds)[0], reference[0])
    first = session.get_outputs()[0].name
    with tempfile.TemporaryDirectory() as folder:
        attnc_error = common.relative_error(common.attnc_outputs(args.attnc, plan, feeds, folder, args.threads)[first], reference[0])
    rounds = {"ort": [], "ov_f32": [], "ov_default": [], "attnc": []}
    # Long rows (the real ViT-S at 896) get fewer repeats: about --budget ms per measurement.
    one = common.ort_latency(session, feeds, 1)
    repeat = max(2, min(args.repeat, int(args.budget / max(one, 1e-3))))
    last = None
    for _ in range(args.rounds):
        rounds["ort"].append(common.ort_latency(session, feeds, repeat))
        rounds["ov_f32"].append(common.openvino_latency(ov32_request, feeds, repeat))
        rounds["ov_default"].append(common.openvino_latency(ovd_request, feeds, repeat))
        last, peak = common.attnc_bench(args.attnc, plan, n, args.threads, repeat, overrides)
        rounds["attnc"].append(last["median_ms"])
    median = {k: float(statistics.median(v)) for k, v in rounds.items()}
    ratios = [a / o for a, o in zip(rounds["attnc"], rounds["ort"])]
    return {
        "model": entry.name, "length": n, "shape": shape, "ms": median, "rounds": rounds, "repeat": repeat,
        "attnc_over_ort": median["attnc"] / median["ort"], "attnc_over_ort_range": [min(ratios), max(ratios)],
        "attnc_over_ov_f32": median["attnc"] / median["ov_f32"], "ov_f32_over_ort": median["ov_f32"] / median["ort"],
        "ov_default_precision": common.openvino_precision(ovd), "ov_default_error": ovd_error,
        "ov_f32_error": ov32_error, "attnc_error": attnc_error, "policy": args.policy,
        "attnc_over_ov_default": median["attnc"] / median["ov_default"], "attnc_gflops": last["gflops_per_s"], "attnc_kernel_ms": last.get("kernel_ms", {}),
        "attention_gflops": attention_rate(last),
        "top_kernels": top_kernels(last),
    }


def print_row(row):
    if "error" in row:
        print(f"| {row['model']} | {row['length']} | failed: {row['error']} |||||||||||", flush=True)
        return
    ms = row["ms"]
    lo, hi = row["attnc_over_ort_range"]
    attention = f"{row['attention_gflops']:.0f}" if row.get("attention_gflops") else "–"
    print(f"| {row['model']} | {row['shape']} | {ms['attnc']:.2f} (err {row['attnc_error']:.1e}) | {ms['ort']:.2f} "
          f"| {ms['ov_f32']:.2f} "
          f"| {ms['ov_default']:.2f} ({row['ov_default_precision']}, err {row['ov_default_error']:.1e}) "
          f"| **{row['attnc_over_ort']:.2f}** ({lo:.2f}–{hi:.2f}) | {row['attnc_over_ov_f32']:.2f} "
          f"| {row['attnc_over_ov_default']:.2f} "
          f"| {row['attnc_gflops']:.1f} | {attention} | {row['top_kernels']} |", flush=True)


def summary(rows):
    done = [r for r in rows if "error" not in r]
    if not done:
        return "no rows"
    ort = [r["attnc_over_ort"] for r in done]
    ov = [r["attnc_over_ov_f32"] for r in done]
    ovd = [r["attnc_over_ov_default"] for r in done]
    above = [f"{r['model']}@{r['length']} {r['attnc_over_ort']:.2f}" for r in done if r["attnc_over_ort"] > 1.1]
    return (f"{len(done)} rows ({len(rows) - len(done)} failed): median attnc/ORT {statistics.median(ort):.3f}, "
            f"median attnc/OpenVINO-f32 {statistics.median(ov):.3f}, median attnc/OpenVINO-default "
            f"{statistics.median(ovd):.3f}, rows above 1.1x ORT: {len(above)}"
            + (f" ({'; '.join(above)})" if above else ""))


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    common.add_zoo_arguments(parser, ROOT)
    parser.add_argument("--cache", default="/tmp/attnc-zoo", help="zoo_models.py's output folder")
    parser.add_argument("--lengths", default="", help="comma-separated lengths for models with a length symbol")
    parser.add_argument("--json", help="also write every row (all rounds) to this file")
    parser.add_argument("--policy", default="exact", choices=["exact", "balanced", "fastest", "accurate"],
                        help="the policy attnc converts with (default exact: the float32 comparison)")
    args = parser.parse_args()
    wanted = [m for m in args.models.split(",") if m]
    entries = [e for e in zoo(args.shared, args.real, args.cache) if not wanted or any(w in e.name for w in wanted)]
    rng = np.random.default_rng(0)
    rows = []
    print(f"attnc plans: --policy {args.policy}")
    print("| model | input | attnc ms (error) | ORT ms | OpenVINO f32 ms | OpenVINO default ms | attnc/ORT (range) "
          "| attnc/OV-f32 | attnc/OV-default | attnc GFLOP/s | attention GFLOP/s | attnc top kernels (ms) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|", flush=True)
    with tempfile.TemporaryDirectory() as work:
        for entry in entries:
            if not os.path.exists(entry.path):
                print(f"skipped {entry.name}: {entry.path} is missing", file=sys.stderr)
                continue
            lengths = entry.lengths if symbolic(entry.path) or entry.kv else entry.lengths[:1]
            if args.lengths and symbolic(entry.path) and not entry.kv:
                lengths = [int(x) for x in args.lengths.split(",")]
            plan = os.path.join(work, entry.name.split()[0].replace("/", "-") + ".attnc")
            try:
                common.attnc_convert(args.attnc, entry.path, plan, ("--policy", args.policy))
            except Exception as error:  # noqa: BLE001 - the row says what failed
                detail = getattr(error, "stderr", b"") or b""
                row = {"model": entry.name, "length": "-", "error": f"attnc convert: {detail.decode().strip()[-200:] or error}"}
                rows.append(row)
                print_row(row)
                continue
            for n in lengths:
                try:
                    row = bench_row(entry, n, args, plan, rng)
                except Exception as error:  # noqa: BLE001
                    detail = getattr(error, "stderr", "") or ""
                    detail = detail.decode() if isinstance(detail, bytes) else detail
                    row = {"model": entry.name, "length": n, "error": (detail.strip()[-200:] or str(error)[:200]).replace("\n", " ")}
                rows.append(row)
                print_row(row)
    print()
    print(summary(rows))
    if args.json:
        with open(args.json, "w") as handle:
            json.dump({"threads": args.threads, "rounds": args.rounds, "repeat": args.repeat, "rows": rows,
                       "summary": summary(rows)}, handle, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
