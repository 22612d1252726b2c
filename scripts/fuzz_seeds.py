#!/usr/bin/env python3
"""Seed inputs for scripts/fuzz.sh's npy and dims targets, written into a folder.

    python3 scripts/fuzz_seeds.py npy|dims FOLDER

npy: small arrays of every dtype attnc reads, in formats 1.0 and 2.0, and an empty one.
dims: serialized attnc.DimExpr messages (schemas/plan.proto): constants, seq, 2*seq + 1,
batch*seq, (seq + 1)/2, a nested division, coefficients of 2^62 and -2^63. Written by hand (no protobuf module needed).
"""
import pathlib
import struct
import sys


def npy(header_dict, data, major=1):
    header = header_dict + " " * ((64 - (len(header_dict) + 11 + (2 if major > 1 else 0)) % 64) % 64) + "\n"
    size = struct.pack("<H", len(header)) if major == 1 else struct.pack("<I", len(header))
    return b"\x93NUMPY" + bytes([major, 0]) + size + header.encode() + data


def npy_seeds():
    seeds = {}
    for descr, fmt in [("<f4", "f"), ("<f8", "d"), ("<i8", "q"), ("<i4", "i"), ("|u1", "B"), ("|b1", "B"), ("<f2", "e")]:
        shape = (2, 3)
        data = struct.pack("<" + fmt * 6, *([1] * 6))
        name = descr.strip("<|")
        seeds[f"{name}.npy"] = npy(f"{{'descr': '{descr}', 'fortran_order': False, 'shape': (2, 3), }}", data)
    seeds["scalar.npy"] = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (), }", struct.pack("<f", 1.5))
    seeds["empty.npy"] = npy("{'descr': '<f4', 'fortran_order': False, 'shape': (0, 4), }", b"")
    seeds["v2.npy"] = npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }", struct.pack("<3q", 1, 2, 3), 2)
    return seeds


def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        byte = n & 0x7F
        n >>= 7
        out.append(byte | (0x80 if n else 0))
        if not n:
            return bytes(out)


def field(number, payload):
    return varint(number << 3 | 2) + varint(len(payload)) + payload


def dim(*terms):
    """terms: (coefficient, [atom bytes])"""
    out = b""
    for coefficient, atoms in terms:
        term = varint(1 << 3) + varint(coefficient) + b"".join(field(2, a) for a in atoms)
        out += field(1, term)
    return out


def symbol(name):
    return field(1, name.encode())


def floor_div(dividend, divisor):
    return field(2, field(1, dividend) + varint(2 << 3) + varint(divisor))


def dims_seeds():
    seq = dim((1, [symbol("seq")]))
    seq_plus_one = dim((1, [symbol("seq")]), (1, []))
    return {
        "zero.dim": b"",
        "const.dim": dim((128, [])),
        "seq.dim": seq,
        "affine.dim": dim((2, [symbol("seq")]), (1, [])),
        "product.dim": dim((1, [symbol("batch"), symbol("seq")])),
        "negative.dim": dim((1, [symbol("seq")]), (-1, [])),
        "division.dim": dim((1, [floor_div(seq_plus_one, 2)])),
        "nested.dim": dim((3, [floor_div(dim((1, [floor_div(seq, 2)]), (1, [])), 4)]), (7, [])),
        # Coefficients at the ends of 64 bits: the algebra must mark overflow, not trap.
        "huge.dim": dim((1 << 62, [symbol("seq")])),
        "smallest.dim": dim((-(1 << 63), [symbol("seq")]), (-(1 << 63), [])),
    }


def main():
    kind, folder = sys.argv[1], pathlib.Path(sys.argv[2])
    folder.mkdir(parents=True, exist_ok=True)
    seeds = {"npy": npy_seeds, "dims": dims_seeds}[kind]()
    for name, data in seeds.items():
        (folder / name).write_bytes(data)
    print(f"{len(seeds)} {kind} seeds in {folder}")


if __name__ == "__main__":
    main()
