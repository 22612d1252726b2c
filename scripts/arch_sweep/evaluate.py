#!/usr/bin/env python3
"""Evaluate attnc on one exported folder: inspect, convert exact (+balanced), run, compare with ORT.

usage: evaluate.py FOLDER [--balanced]   (the binary: $ATTNC, default .build/release/attnc)
Writes FOLDER/result.json.
"""
import glob
import json
import os
import subprocess
import sys

import numpy as np

A = os.environ.get("ATTNC", os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", ".build", "release", "attnc"))


def sh(args, log, timeout=900):
    try:
        p = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        open(log, "w").write("TIMEOUT")
        return 124, "TIMEOUT"
    open(log, "w").write(p.stdout + "\n--- stderr\n" + p.stderr)
    return p.returncode, (p.stderr.strip() or p.stdout.strip())


def last_lines(text, n=3):
    lines = [l for l in text.splitlines() if l.strip()]
    return " | ".join(lines[-n:])[:600]


def compare(plan, folder, tag):
    out = {}
    for feed in sorted(glob.glob(os.path.join(folder, "feed*"))):
        fname = os.path.basename(feed)
        inputs = [f for f in glob.glob(os.path.join(feed, "*.npy")) if not os.path.basename(f).startswith("ort_")]
        od = os.path.join(folder, f"out_{tag}_{fname}")
        os.makedirs(od, exist_ok=True)
        args = [A, "run", plan, "--output-dir", od, "--threads", "1"]
        for f in inputs:
            args += ["--input", f"{os.path.basename(f)[:-4]}={f}"]
        rc, msg = sh(args, os.path.join(folder, f"run_{tag}_{fname}.log"))
        if rc != 0:
            out[fname] = {"run": "failed", "rc": rc, "error": last_lines(msg)}
            continue
        res = {"run": "ok"}
        for ref in glob.glob(os.path.join(feed, "ort_*.npy")):
            name = os.path.basename(ref)[4:]
            e = np.load(ref).astype(np.float64)
            path = os.path.join(od, name)
            if not os.path.exists(path):
                res[name] = "missing"
                continue
            a = np.load(path).astype(np.float64)
            if a.shape != e.shape:
                res[name] = f"shape {a.shape} vs {e.shape}"
                continue
            finite = np.isfinite(e)
            d = np.abs(a - e)
            res["max_abs"] = float(np.nanmax(d)) if d.size else 0.0
            res["max_rel"] = float(np.nanmax(d / (np.abs(e) + 1e-6)))
            res["rel_fro"] = float(np.linalg.norm(np.nan_to_num(a - e)) / max(np.linalg.norm(np.nan_to_num(e)), 1e-30))
            res["nan_attnc"] = int(np.isnan(a).sum())
            res["nan_ort"] = int(np.isnan(e).sum())
            res["allclose"] = bool(np.allclose(a, e, rtol=1e-3, atol=1e-5, equal_nan=True))
        out[fname] = res
    return out


def main():
    folder = sys.argv[1]
    balanced = "--balanced" in sys.argv
    info = json.load(open(os.path.join(folder, "info.json")))
    result = {"folder": os.path.basename(folder), "export": info.get("export"), "shapes": info.get("shapes")}
    if info.get("export") != "ok":
        result["export_error"] = info.get("export_error")
        json.dump(result, open(os.path.join(folder, "result.json"), "w"), indent=1)
        return
    model = os.path.join(folder, "model.onnx")
    rc, msg = sh([A, "inspect", model, "--format", "json"], os.path.join(folder, "inspect.json.log"))
    sh([A, "inspect", model], os.path.join(folder, "inspect.txt"))
    if rc == 0:
        text = open(os.path.join(folder, "inspect.json.log")).read().split("\n--- stderr")[0]
        d = json.loads(text)
        result["attention"] = len(d.get("attention") or [])
        result["unmatched_softmax"] = [(u.get("node"), u.get("reason")) for u in (d.get("unmatched_softmax") or [])]
        result["unsupported_ops"] = d.get("unsupported_ops")
        result["softmax_before"] = (d.get("ops_before") or {}).get("Softmax", 0)
        result["masks"] = sorted({str(a.get("mask")) for a in (d.get("attention") or [])})
        result["softcap"] = sorted({str(a.get("softcap")) for a in (d.get("attention") or [])})
    else:
        result["inspect_error"] = last_lines(msg)
    # Each policy's plan: converted, run on every feed, compared (keys as table.py reads them).
    for policy, plan_name, prefix, extra in [("exact", "model.attnc", "", ["--policy", "exact"]),
                                              ("balanced", "model_balanced.attnc", "balanced_", [])]:
        if policy == "balanced" and not balanced:
            continue
        plan = os.path.join(folder, plan_name)
        rc, msg = sh([A, "convert", model, "-o", plan, "--force", *extra], os.path.join(folder, f"convert_{policy}.log"))
        result[prefix + "convert"] = "ok" if rc == 0 else "failed"
        if rc == 0:
            result[policy] = compare(plan, folder, policy)
        else:
            result[(prefix or "convert_") + "error"] = last_lines(msg)
    json.dump(result, open(os.path.join(folder, "result.json"), "w"), indent=1)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
