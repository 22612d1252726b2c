"""InferenceSession: a plan loaded once, run on numpy arrays (modelled on onnxruntime's)."""

import ctypes
import os

import numpy as np

from . import _library
from .errors import UsageError, check

# ONNX element type numbers (the plan's dtypes) to numpy and ONNX Runtime's type strings.
_NUMPY = {1: np.float32, 2: np.uint8, 3: np.int8, 4: np.uint16, 5: np.int16, 6: np.int32, 7: np.int64, 9: np.bool_,
          10: np.float16, 11: np.float64, 12: np.uint32, 13: np.uint64}
_CODES = {np.dtype(t): code for code, t in _NUMPY.items()}
_ORT_NAMES = {1: "float", 2: "uint8", 3: "int8", 4: "uint16", 5: "int16", 6: "int32", 7: "int64", 8: "string", 9: "bool",
              10: "float16", 11: "double", 12: "uint32", 13: "uint64", 16: "bfloat16"}
_BFLOAT16 = 16


class NodeArg:
    """An input or output: `name`, `shape` (ints, and strings for symbolic dims), `type`
    ("tensor(float)", as ONNX Runtime spells it)."""

    def __init__(self, name, dtype, shape):
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.type = "tensor(%s)" % _ORT_NAMES.get(dtype, "dtype%d" % dtype)

    def __repr__(self):
        return "NodeArg(name=%r, type=%r, shape=%r)" % (self.name, self.type, self.shape)


def _dim(text):
    return int(text) if text.lstrip("-").isdigit() else text


class _Output:
    """Owns one output buffer of the library; numpy arrays made from it keep it alive, and it is
    released when the last of them goes."""

    def __init__(self, lib, tensor):
        self._lib = lib
        self._tensor = tensor
        shape = tuple(tensor.shape[i] for i in range(tensor.rank))
        dtype = np.dtype(np.uint16 if tensor.dtype == _BFLOAT16 else _NUMPY[tensor.dtype])
        self.__array_interface__ = {"shape": shape, "typestr": dtype.str, "data": (tensor.data or 0, False), "version": 3}

    def __del__(self):
        self._lib.attnc_tensor_release(ctypes.byref(self._tensor))


def _array(lib, tensor):
    """An output as a numpy array over the library's buffer (no copy); bfloat16 is widened to
    float32 (a copy: numpy has no bfloat16)."""
    if tensor.byte_count == 0 or not tensor.data:
        shape = tuple(tensor.shape[i] for i in range(tensor.rank))
        dtype = np.float32 if tensor.dtype == _BFLOAT16 else _NUMPY[tensor.dtype]
        lib.attnc_tensor_release(ctypes.byref(tensor))
        return np.empty(shape, dtype=dtype)
    array = np.asarray(_Output(lib, tensor))
    if tensor.dtype == _BFLOAT16:
        return (array.astype(np.uint32) << 16).view(np.float32)
    return array


class InferenceSession:
    """A plan written by `attnc convert` (or `attnc.convert`), read once.

    `threads` sizes attnc's thread pool, which is process-wide (None keeps it: 2 threads unless
    changed). `run` may be called from several threads; runs of one session take turns (the
    interpreter is not reentrant), and ctypes releases the GIL while a run computes.
    """

    def __init__(self, path, threads=None):
        self._lib = _library.load()
        self._handle = ctypes.c_void_p()
        check(self._lib, self._lib.attnc_session_open(os.fsencode(path), int(threads or 0), ctypes.byref(self._handle)))
        self._path = path
        self._inputs = self._ports(self._lib.attnc_session_input_count, self._lib.attnc_session_input)
        self._outputs = self._ports(self._lib.attnc_session_output_count, self._lib.attnc_session_output)
        self._output_index = {o.name: i for i, o in enumerate(self._outputs)}
        self._input_names = [i.name.encode() for i in self._inputs]

    def _ports(self, count, describe):
        ports = []
        for index in range(count(self._handle)):
            port = _library.Port()
            check(self._lib, describe(self._handle, index, ctypes.byref(port)))
            shape = [_dim(port.dims[axis].decode()) for axis in range(port.rank)]
            ports.append(NodeArg(port.name.decode(), port.dtype, shape))
        return ports

    def get_inputs(self):
        return list(self._inputs)

    def get_outputs(self):
        return list(self._outputs)

    def run(self, output_names, input_feed, run_options=None):
        """The outputs named in `output_names` (all when None or empty), as numpy arrays, for
        the inputs in `input_feed` ({name: array}). Contiguous arrays are read in place;
        others are made contiguous first."""
        if self._handle is None:
            raise UsageError("the session is closed", status=4, code="usage")
        arrays = []
        tensors = (_library.Tensor * len(input_feed))()
        for slot, (name, value) in enumerate(input_feed.items()):
            array = np.ascontiguousarray(value)
            code = _CODES.get(array.dtype)
            if code is None:
                raise UsageError("input '%s' is a numpy %s array, which attnc does not take" % (name, array.dtype), status=4, code="usage")
            arrays.append(array)
            shape = (ctypes.c_int64 * max(array.ndim, 1))(*array.shape)
            arrays.append(shape)
            tensors[slot] = _library.Tensor(name.encode(), code, array.ndim, shape, array.ctypes.data, array.nbytes, None)
        if output_names:
            names = (ctypes.c_char_p * len(output_names))(*[n.encode() for n in output_names])
            count = len(output_names)
        else:
            names, count = None, len(self._outputs)
        outputs = (_library.Tensor * count)()
        check(self._lib, self._lib.attnc_session_run(self._handle, tensors, len(input_feed), names, count, outputs))
        return [_array(self._lib, _library.Tensor.from_buffer_copy(outputs[i])) for i in range(count)]

    def close(self):
        if self._handle is not None and self._handle.value:
            self._lib.attnc_session_close(self._handle)
        self._handle = None

    def __del__(self):
        if getattr(self, "_handle", None) is not None:
            self.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()
