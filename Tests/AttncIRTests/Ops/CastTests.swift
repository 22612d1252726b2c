import AttncTensor
import Testing

@testable import AttncIR

@Suite struct CastTests: UsesMovementFixtures {
  static func to(_ dtype: DType) -> [String: AttributeValue] { ["to": .int(Int64(dtype.rawValue))] }

  static let shapeCases: [ShapeCase] = [
    ShapeCase(
      name: "keeps symbolic dims", attributes: to(.int32), opset: 13,
      inputs: [fact(.float, [batch, seq])], expected: .types([TensorType(.int32, [batch, seq])])),
    ShapeCase(
      name: "to a float8 format", attributes: to(.float8e4m3fn), opset: 19,
      inputs: [fact(.float, [3])], expected: .types([TensorType(.float8e4m3fn, [3])])),
    ShapeCase(
      name: "opset 1 names the type", attributes: ["to": .string("INT64")], opset: 1,
      inputs: [fact(.float, [seq])], expected: .types([TensorType(.int64, [seq])])),
    ShapeCase(
      name: "needs 'to'", opset: 13, inputs: [fact(.float, [3])],
      expected: .error("attribute 'to' is required")),
    ShapeCase(
      name: "refuses an unknown round_mode",
      attributes: ["to": .int(24), "round_mode": .string("sideways")], opset: 24,
      inputs: [fact(.float, [3])],
      expected: .error("round_mode 'sideways' is not one of up, down, nearest")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ShapeCase) throws { try c.check("Cast") }

  @Test func refusesAnUnknownDataType() {
    let error = #expect(throws: AttncError.self) {
      try MovementFixtures.op("Cast", ["to": .int(99)], opset: 13)
    }
    #expect(error == AttncError.unsupported("unknown tensor data type 99"))
  }

  static let evalCases: [EvalCase] = [
    EvalCase(
      name: "floats truncate toward zero", attributes: to(.int32), opset: 13,
      inputs: [floats([-2.7, 2.7, 300], [3])],
      expected: [HostTensor(dtype: .int32, shape: [3], integers: [-2, 2, 300])]),
    EvalCase(
      name: "narrowing wraps", attributes: to(.int8), opset: 13,
      inputs: [int64s([300, -129, 1 << 40 + 5], [3])],
      expected: [HostTensor(dtype: .int8, shape: [3], integers: [44, 127, 5])]),
    EvalCase(
      name: "nonzero is true", attributes: to(.bool), opset: 13,
      inputs: [floats([0, 0.5, -1, .nan], [4])], expected: [bools([false, true, true, true], [4])]),
    EvalCase(
      name: "bools are 0 and 1", attributes: to(.float), opset: 13,
      inputs: [bools([false, true], [2])], expected: [floats([0, 1], [2])]),
    EvalCase(
      name: "float16 rounds to nearest", attributes: to(.float16), opset: 13,
      inputs: [floats([0.1, 65520], [2])],
      expected: [HostTensor(dtype: .float16, shape: [2], converting: [0.0999755859375, .infinity])]),
    EvalCase(
      name: "float8 saturates by default", attributes: to(.float8e4m3fn), opset: 19,
      inputs: [floats([0.4789254, 1e6, -.infinity], [3])],
      expected: [HostTensor(dtype: .float8e4m3fn, shape: [3], converting: [0.46875, 448, -448])]),
    EvalCase(
      name: "float8 without saturate overflows to NaN",
      attributes: ["to": .int(17), "saturate": .int(0)], opset: 19, inputs: [floats([1e6], [1])],
      expected: [HostTensor(dtype: .float8e4m3fn, shape: [1], converting: [.nan])]),
    EvalCase(
      name: "strings parse as numbers", attributes: to(.float), opset: 13,
      inputs: [HostTensor(strings: ["1e-5", "INF", "-inf", "NaN", " 2.5"], shape: [5])],
      expected: [floats([1e-5, .infinity, -.infinity, .nan, 2.5], [5])]),
    EvalCase(
      name: "strings parse as integers", attributes: to(.int64), opset: 13,
      inputs: [HostTensor(strings: ["-3", "9007199254740993"], shape: [2])],
      expected: [int64s([-3, 9_007_199_254_740_993], [2])]),
    EvalCase(
      name: "integers print", attributes: to(.string), opset: 13, inputs: [int64s([-3, 10], [2])],
      expected: [HostTensor(strings: ["-3", "10"], shape: [2])]),
    EvalCase(
      name: "floats print in shortest form", attributes: to(.string), opset: 13,
      inputs: [floats([0.5, 100, 0.1], [3])],
      expected: [HostTensor(strings: ["0.5", "100.0", "0.1"], shape: [3])]),
  ]

  @Test(arguments: evalCases) func evaluation(_ c: EvalCase) throws { try c.check("Cast") }

  /// One element cast to a small float format, checked bit for bit.
  struct PatternCase: Sendable, CustomTestStringConvertible {
    var to: DType
    var value: Float
    var pattern: UInt8
    var saturate = true
    var roundMode = Cast.RoundMode.up
    var testDescription: String {
      "\(value) to \(to)\(saturate ? "" : " without saturate") is \(String(pattern, radix: 16))"
    }
  }

  static let patternCases: [PatternCase] = [
    PatternCase(to: .float8e4m3fn, value: 0.4789254, pattern: 0x2F),
    PatternCase(to: .float8e4m3fn, value: 1e6, pattern: 0x7E),
    PatternCase(to: .float8e4m3fn, value: -.infinity, pattern: 0xFE),
    PatternCase(to: .float8e4m3fn, value: .nan, pattern: 0x7F),
    PatternCase(to: .float8e4m3fn, value: -1e-7, pattern: 0x80),
    PatternCase(to: .float8e4m3fn, value: 464, pattern: 0x7E, saturate: false),
    PatternCase(to: .float8e4m3fn, value: 470, pattern: 0x7F, saturate: false),
    PatternCase(to: .float8e4m3fn, value: -.infinity, pattern: 0xFF, saturate: false),
    PatternCase(to: .float8e4m3fnuz, value: .nan, pattern: 0x80),
    PatternCase(to: .float8e4m3fnuz, value: 1e6, pattern: 0x7F),
    PatternCase(to: .float8e4m3fnuz, value: -1e-7, pattern: 0x00),
    PatternCase(to: .float8e5m2, value: .infinity, pattern: 0x7B),
    PatternCase(to: .float8e5m2, value: .infinity, pattern: 0x7C, saturate: false),
    PatternCase(to: .float8e5m2, value: -1e6, pattern: 0xFC, saturate: false),
    PatternCase(to: .float8e5m2fnuz, value: 1e6, pattern: 0x80, saturate: false),
    PatternCase(to: .float4e2m1, value: 0.25, pattern: 0x0),
    PatternCase(to: .float4e2m1, value: 0.75, pattern: 0x2),
    PatternCase(to: .float4e2m1, value: 5, pattern: 0x6),
    PatternCase(to: .float4e2m1, value: -8, pattern: 0xF),
    PatternCase(to: .float4e2m1, value: .nan, pattern: 0x8),
    PatternCase(to: .float4e2m1, value: -0.0, pattern: 0x8),
    PatternCase(to: .float8e8m0, value: 0.124, pattern: 0x7C),
    PatternCase(to: .float8e8m0, value: 1.1, pattern: 0x80),
    PatternCase(to: .float8e8m0, value: 0, pattern: 0x00),
    PatternCase(to: .float8e8m0, value: 1.9, pattern: 0x7F, roundMode: .down),
    PatternCase(to: .float8e8m0, value: 1.4, pattern: 0x7F, roundMode: .nearest),
    PatternCase(to: .float8e8m0, value: 1.5, pattern: 0x80, roundMode: .nearest),
    PatternCase(to: .float8e8m0, value: .greatestFiniteMagnitude, pattern: 0xFE),
    PatternCase(to: .float8e8m0, value: .greatestFiniteMagnitude, pattern: 0xFF, saturate: false),
    PatternCase(to: .float8e8m0, value: .nan, pattern: 0xFF),
  ]

  @Test(arguments: patternCases) func smallFloatPatterns(_ c: PatternCase) throws {
    let cast = Cast(to: c.to, saturate: c.saturate, roundMode: c.roundMode)
    let out = try cast.evaluate([HostTensor(floats: [c.value], shape: [1])], outputCount: 1)[0]
    #expect(out.dtype == c.to)
    #expect(out.storage.bytes.first == c.pattern)
  }

  static let contentCases: [ContentCase] = [
    ContentCase(
      name: "integer dims pass through", attributes: to(.int32), opset: 13,
      inputs: [content([batch, seq])], expected: [batch, seq]),
    ContentCase(
      name: "bools become integers", attributes: to(.int64), opset: 13,
      inputs: [content([1, 0], dtype: .bool)], expected: [1, 0]),
    ContentCase(
      name: "integers become bools", attributes: to(.bool), opset: 13,
      inputs: [content([2, 0])], expected: [1, 0]),
    ContentCase(
      name: "not to floats", attributes: to(.float), opset: 13, inputs: [content([batch])],
      expected: nil),
  ]

  @Test(arguments: contentCases) func contentPropagation(_ c: ContentCase) throws {
    try c.check("Cast")
  }
}
