"""attnc from Python: convert ONNX models to plans and run them on numpy arrays.

    import attnc, numpy as np
    attnc.convert("model.onnx", "model.attnc", policy="balanced")
    session = attnc.InferenceSession("model.attnc")
    outputs = session.run(None, {"input_ids": ids, "attention_mask": mask})
"""

import ctypes
import json
import os

from . import _library
from .errors import AttncError, BatchFailureError, FileError, InvalidModelError, UnsupportedError, UsageError, VerificationError, check
from .session import InferenceSession, NodeArg

__all__ = [
    "AttncError", "BatchFailureError", "FileError", "InferenceSession", "InvalidModelError", "NodeArg", "UnsupportedError",
    "UsageError", "VerificationError", "convert", "inspect", "version",
]


def _json_call(function, *arguments):
    lib = _library.load()
    result = ctypes.c_void_p()
    check(lib, function(*arguments, ctypes.byref(result)))
    try:
        return json.loads(ctypes.string_at(result.value).decode())
    finally:
        lib.attnc_string_free(result)


def convert(model, plan, policy="balanced", **options):
    """`attnc convert model -o plan --policy P ...`: options are the CLI's with underscores
    (seq_len=128 or "auto", calibration="dir", variant="performer:m=256", max_error=0.05,
    max_output_error=0.02, layers="0-3:softmax", token_merge="8", force=True, ...;
    branch={"use_cache_branch": True} for `--branch use_cache_branch=true`). Returns the
    written plan's `inspect` dict."""
    options = dict(options, policy=policy)
    lib = _library.load()
    return _json_call(lib.attnc_convert, os.fsencode(model), os.fsencode(plan), json.dumps(options).encode())


def inspect(path):
    """`attnc inspect path --format json` (a model or a plan) as a dict."""
    lib = _library.load()
    return _json_call(lib.attnc_inspect, os.fsencode(path))


def version():
    return _library.load().attnc_version().decode()
