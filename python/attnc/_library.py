"""Finds libattnc_c (building it when there is none) and declares its C functions for ctypes.

Looked for, in order: $ATTNC_LIBRARY; beside this package; the checkout's .build/release/ (the
checkout the package was installed from, or the one holding this file). When none exists, the
checkout's library is built with `swift build -c release --product attnc_c`, its output shown.
"""

import ctypes
import os
import subprocess
import sys
import threading

_NAME = "libattnc_c.dylib" if sys.platform == "darwin" else "libattnc_c.so"
_lock = threading.Lock()
_library = None


# The fields attnc_port and attnc_tensor (include/attnc.h) start with.
_NAMED = [("name", ctypes.c_char_p), ("dtype", ctypes.c_int32), ("rank", ctypes.c_int32)]


class Port(ctypes.Structure):
    _fields_ = _NAMED + [("dims", ctypes.POINTER(ctypes.c_char_p))]


class Tensor(ctypes.Structure):
    _fields_ = _NAMED + [
        ("shape", ctypes.POINTER(ctypes.c_int64)),
        ("data", ctypes.c_void_p),
        ("byte_count", ctypes.c_size_t),
        ("owner", ctypes.c_void_p),
    ]


def checkout():
    """The attnc checkout this package belongs to, or None."""
    try:
        from ._checkout import CHECKOUT

        if os.path.isfile(os.path.join(CHECKOUT, "Package.swift")):
            return CHECKOUT
    except ImportError:
        pass
    here = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return here if os.path.isfile(os.path.join(here, "Package.swift")) else None


def _candidates():
    if os.environ.get("ATTNC_LIBRARY"):
        yield os.environ["ATTNC_LIBRARY"]
        return
    yield os.path.join(os.path.dirname(os.path.abspath(__file__)), _NAME)
    root = checkout()
    if root:
        yield os.path.join(root, ".build", "release", _NAME)


def _build(root):
    command = ["swift", "build", "-c", "release", "--product", "attnc_c"]
    print("attnc: no %s found; building it in %s with `%s` (several minutes the first time)" % (_NAME, root, " ".join(command)),
          file=sys.stderr, flush=True)
    try:
        result = subprocess.run(command, cwd=root, stdout=sys.stderr, stderr=sys.stderr)
    except FileNotFoundError:
        raise OSError("attnc: `swift` is not on PATH; build libattnc_c with `%s` in an attnc checkout and set ATTNC_LIBRARY" % " ".join(command))
    if result.returncode != 0:
        raise OSError("attnc: `%s` failed in %s (exit status %d)" % (" ".join(command), root, result.returncode))
    print("attnc: built %s" % os.path.join(root, ".build", "release", _NAME), file=sys.stderr, flush=True)


def path():
    """The library's path, building it if needed."""
    tried = list(_candidates())
    for candidate in tried:
        if os.path.isfile(candidate):
            return candidate
    if os.environ.get("ATTNC_LIBRARY"):
        raise OSError("attnc: ATTNC_LIBRARY=%s does not exist" % os.environ["ATTNC_LIBRARY"])
    root = checkout()
    if root is None:
        raise OSError("attnc: no %s (looked at %s) and no attnc checkout to build it in; set ATTNC_LIBRARY" % (_NAME, ", ".join(tried)))
    _build(root)
    return os.path.join(root, ".build", "release", _NAME)


def load():
    """The loaded library with its functions' C types declared (loaded once per process)."""
    global _library
    with _lock:
        if _library is None:
            _library = _declare(ctypes.CDLL(path()))
        return _library


def _declare(lib):
    c = ctypes
    session, status, string = c.c_void_p, c.c_int32, c.c_char_p
    signatures = {
        "attnc_status_name": (string, [status]),
        "attnc_last_error": (string, []),
        "attnc_version": (string, []),
        "attnc_session_open": (status, [string, c.c_int32, c.POINTER(session)]),
        "attnc_session_close": (None, [session]),
        "attnc_session_input_count": (c.c_int32, [session]),
        "attnc_session_output_count": (c.c_int32, [session]),
        "attnc_session_input": (status, [session, c.c_int32, c.POINTER(Port)]),
        "attnc_session_output": (status, [session, c.c_int32, c.POINTER(Port)]),
        "attnc_session_run": (status, [session, c.POINTER(Tensor), c.c_size_t, c.POINTER(c.c_char_p), c.c_size_t, c.POINTER(Tensor)]),
        "attnc_tensor_release": (None, [c.POINTER(Tensor)]),
        "attnc_convert": (status, [string, string, string, c.POINTER(c.c_void_p)]),
        "attnc_inspect": (status, [string, c.POINTER(c.c_void_p)]),
        "attnc_string_free": (None, [c.c_void_p]),
    }
    for name, (result, arguments) in signatures.items():
        function = getattr(lib, name)
        function.restype = result
        function.argtypes = arguments
    return lib
