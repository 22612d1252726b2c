#!/usr/bin/env python3
"""Writes the ONNX backend node tests of the quantization ops attnc runs (QuantizeLinear,
DequantizeLinear, DynamicQuantizeLinear, MatMulInteger, QLinearMatMul, ConvInteger,
QLinearConv), generated from the installed onnx package's own cases, in the ONNX test layout
(`<case>/model.onnx`, `<case>/test_data_set_N/input_i.pb`, `output_i.pb`), for
`QuantizationNodeTests`. (`../shared/onnx-node` predates these ops; the cases are a few KB.)

Usage: python3 scripts/export_quantization_node_tests.py [OUT]
(OUT defaults to Tests/Fixtures/onnx-node-quantization). Needs onnx.
"""
import os
import shutil
import sys
import warnings

import onnx.backend.test.case.node as node_cases
from onnx import numpy_helper

PREFIXES = ("test_quantizelinear", "test_dequantizelinear", "test_dynamicquantizelinear", "test_matmulinteger",
            "test_qlinearmatmul", "test_convinteger", "test_qlinearconv")


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(
        os.path.dirname(__file__), "..", "Tests", "Fixtures", "onnx-node-quantization")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cases = [c for c in node_cases.collect_testcases(None) if c.name.startswith(PREFIXES)]
    shutil.rmtree(out, ignore_errors=True)
    for case in cases:
        folder = os.path.join(out, case.name)
        os.makedirs(folder)
        with open(os.path.join(folder, "model.onnx"), "wb") as f:
            f.write(case.model.SerializeToString())
        for index, (inputs, outputs) in enumerate(case.data_sets):
            data = os.path.join(folder, f"test_data_set_{index}")
            os.makedirs(data)
            graph = case.model.graph
            for kind, values, declared in (("input", inputs, graph.input), ("output", outputs, graph.output)):
                for i, value in enumerate(values):
                    tensor = value if hasattr(value, "SerializeToString") else numpy_helper.from_array(value, declared[i].name)
                    with open(os.path.join(data, f"{kind}_{i}.pb"), "wb") as f:
                        f.write(tensor.SerializeToString())
    print(f"wrote {len(cases)} cases to {out}", file=sys.stderr)


if __name__ == "__main__":
    main()
