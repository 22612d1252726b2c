#!/usr/bin/env python3
"""Writes Fuzz/dictionaries/*.dict, the libFuzzer dictionaries of scripts/fuzz.sh.

Field tags (the protobuf key bytes of every field of onnx.proto and schemas/plan.proto), op
names (attnc's op registry), kernel names (KernelCalls) and the .npy header's words. Rerun when
the schemas or the registries change: python3 scripts/fuzz_dictionaries.py
"""
import pathlib
import re

from fuzz_seeds import varint

ROOT = pathlib.Path(__file__).resolve().parent.parent
OUT = ROOT / "Fuzz" / "dictionaries"

# Wire type per protobuf scalar type (2 = length-delimited: strings, bytes, messages, packed).
WIRE = {"int64": 0, "int32": 0, "uint64": 0, "uint32": 0, "bool": 0, "sint64": 0, "sint32": 0,
        "double": 1, "fixed64": 1, "float": 5, "fixed32": 5}


def escaped(data):
    return "".join(f"\\x{b:02x}" for b in data)


def proto_tags(path):
    """Every field's key bytes in a .proto file: (field, wire type) as libFuzzer entries."""
    text = path.read_text()
    enums = set(re.findall(r"\benum\s+(\w+)", text))
    entries = set()
    for kind, number, packed in re.findall(
            r"^\s*(?:optional|repeated|required)?\s*([\w.]+)\s+\w+\s*=\s*(\d+)\s*(\[packed\s*=\s*true\])?",
            text, re.M):
        if kind in ("message", "enum", "oneof", "option", "reserved", "syntax", "package"):
            continue
        wire = 0 if kind in enums else WIRE.get(kind, 2)
        entries.add(varint(int(number) << 3 | wire))
        if wire != 2:  # repeated scalars may also come packed
            entries.add(varint(int(number) << 3 | 2))
    return sorted(entries)


def swift_strings(pattern, paths):
    names = set()
    for path in paths:
        names.update(re.findall(pattern, path.read_text()))
    return sorted(names)


def write(name, tags, words):
    lines = [f'"{escaped(tag)}"' for tag in tags] + [f'"{w}"' for w in words]
    (OUT / name).write_text("\n".join(lines) + "\n")
    print(f"{name}: {len(lines)} entries")


def main():
    OUT.mkdir(parents=True, exist_ok=True)
    onnx_proto = ROOT / "schemas" / "onnx.proto"
    onnx_tags = proto_tags(onnx_proto)
    # Entries name their op first: Entry("Shape", ...), or ("Add", ...) in the op families' lists.
    ops = swift_strings(r'(?:Entry)?\("([A-Z]\w+)",', sorted(ROOT.glob("Sources/AttncIR/**/*.swift")))
    domains = ["", "com.microsoft", "ai.onnx", "ai.onnx.ml", "pkg.onnxscript.torch_lib"]
    onnx_words = ops + [d for d in domains if d] + ["onnx", "location", "offset", "length", "external_data"]
    write("onnx.dict", onnx_tags, onnx_words)
    write("pb.dict", onnx_tags, ["location", "offset", "length", "checksum"])

    plan_proto = ROOT / "schemas" / "plan.proto"
    kernels = swift_strings(r'names\s*(?::\s*\[String\])?\s*=\s*\[([^\]]*)\]',
                            sorted(ROOT.glob("Sources/AttncKernels/Calls/*.swift")))
    kernel_names = sorted({n for group in kernels for n in re.findall(r'"([^"]+)"', group)})
    write("plan.dict", proto_tags(plan_proto), ["ATTNCPLN", "\\x01\\x00\\x00\\x00"] + kernel_names)
    dim_tags = [b"\x0a", b"\x08", b"\x12", b"\x10"]
    write("dims.dict", dim_tags, ["seq", "batch", "\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\x7f"])

    npy_words = ["\\x93NUMPY", "'descr':", "'fortran_order':", "'shape':", "False", "True", "(", ")",
                 ",", "<f4", "<f8", "<f2", "<i8", "<i4", "<i2", "|i1", "|u1", "<u2", "<u4", "<u8",
                 "|b1", "=f4", ">f4", "{", "}"]
    write("npy.dict", [], npy_words)


if __name__ == "__main__":
    main()
