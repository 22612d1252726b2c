@testable import AttncKernels
import AttncTensor
import CAttnc
import Foundation
import Testing

/// Where (strided rows over three broadcast operands), Pow by a scalar 2, 0.5 or 1, and the
/// vectorised Sigmoid, against element-by-element references written here.
@Suite struct SelectPowerSigmoidTests {
  /// Condition, x and y shapes: equal, row masks, column masks, scalars, rank 5, zero-size.
  static let shapeTriples: [([Int], [Int], [Int])] = [
    ([2, 3, 5], [2, 3, 5], [2, 3, 5]), ([1, 1, 4, 7], [2, 3, 4, 7], []), ([4, 1], [1, 7], [4, 7]),
    ([7], [3, 7], [1]), ([], [2, 5], [2, 1]), ([2, 1, 3, 1, 5], [1, 4, 1, 2, 5], [5]),
    ([3, 0], [3, 1], [1]), ([1, 1, 9, 9], [1], [1, 2, 9, 9]), ([5, 1, 1], [], [1, 3, 1]),
  ]

  /// The broadcast output shape and, for output element `flat`, the flat index into `shape`.
  static func broadcast(_ shapes: [[Int]]) -> [Int] {
    let rank = shapes.map(\.count).max() ?? 0
    var out = [Int](repeating: 1, count: rank)
    for s in shapes { for (i, d) in s.enumerated() where d != 1 { out[rank - s.count + i] = d } }
    return out
  }

  static func source(_ flat: Int, output: [Int], shape: [Int]) -> Int {
    var rest = flat, index = 0, scale = 1
    for axis in stride(from: output.count - 1, through: 0, by: -1) {
      let coordinate = rest % output[axis]
      rest /= output[axis]
      let k = axis - (output.count - shape.count)
      if k >= 0 {
        if shape[k] != 1 { index += coordinate * scale }
        scale *= shape[k]
      }
    }
    return index
  }

  @Test(arguments: shapeTriples.indices)
  func whereMatchesReference(triple: Int) throws {
    let (sc, sx, sy) = Self.shapeTriples[triple]
    let out = Self.broadcast([sc, sx, sy])
    let n = out.reduce(1, *)
    let c = Tensor.int((0..<sc.reduce(1, *)).map { Int64(($0 * 7 + 3) % 3 == 0 ? 1 : 0) }, sc, dtype: .bool)
    let x = Tensor.float((0..<sx.reduce(1, *)).map { Float($0) + 0.25 }, sx)
    let y = Tensor.float((0..<sy.reduce(1, *)).map { -Float($0) - 0.5 }, sy)
    let expected = (0..<n).map { i -> Float in
      c.ints[Self.source(i, output: out, shape: sc)] != 0
        ? x.floats[Self.source(i, output: out, shape: sx)] : y.floats[Self.source(i, output: out, shape: sy)]
    }
    let fast = try Elementwise.select(c, x, y)
    #expect(fast.shape == out)
    #expect(Array(fast.floats) == expected, "\(sc) \(sx) \(sy)")
    let xi = Tensor.int(x.floats.map { Int64($0 * 4) }, sx, dtype: .int32)
    let yi = Tensor.int(y.floats.map { Int64($0 * 4) }, sy, dtype: .int32)
    let fastInts = try Elementwise.select(c, xi, yi)
    #expect(fastInts.dtype == .int32)
    #expect(fastInts.ints == expected.map { Int64($0 * 4) })
    let xs = Tensor(dtype: .string, shape: sx, strings: x.floats.map { "\($0)" })
    let ys = Tensor(dtype: .string, shape: sy, strings: y.floats.map { "\($0)" })
    #expect(try Elementwise.select(c, xs, ys).strings == expected.map { "\($0)" })
  }

  @Test func whereRejectsMismatchedTypes() {
    let c = Tensor.int([1, 0], [2], dtype: .bool)
    #expect(throws: AttncError.self) { try Elementwise.select(c, .float([1, 2], [2]), .int([1, 2], [2])) }
    #expect(throws: AttncError.self) { try Elementwise.select(.float([1, 0], [2]), .float([1, 2], [2]), .float([1, 2], [2])) }
    #expect(throws: AttncError.self) { try Elementwise.select(c, .float([1, 2, 3], [3]), .float([1, 2], [2])) }
  }

  /// Values with the edge cases of pow: signed zeros, infinities, NaN, negatives, subnormals.
  static let powerInputs: [Float] =
    [0, -0, 1, -1, 2, -2.5, 0.3, 1e-30, -1e-30, 3e38, -3e38, .infinity, -.infinity, .nan, 1e-40, -1e-40, 7.75]
    + (0..<70).map { Float($0) * 0.37 - 11 }

  @Test(arguments: [Float(2), 0.5, 1])
  func powerByScalarMatchesPow(exponent: Float) throws {
    let x = Tensor.float(Self.powerInputs, [Self.powerInputs.count])
    for b in [Tensor.float([exponent], []), .float([exponent], [1, 1]), .int([Int64(exponent)], [1])] where b.isFloat || exponent == exponent.rounded() {
      let result = try Elementwise.binary("Pow", x, b)
      #expect(result.shape == (b.rank > 1 ? [1, x.count] : [x.count]))
      for (value, input) in zip(result.floats, Self.powerInputs) {
        let exact = Foundation.pow(input, exponent)
        #expect(value.bitPattern == exact.bitPattern || (value.isNaN && exact.isNaN), "\(input)^\(exponent): \(value), pow gives \(exact)")
      }
    }
  }

  /// Other exponents and non-scalar ones still take the general loop.
  @Test func powerByOtherExponentsMatchesPow() throws {
    let x = Tensor.float([0.5, 2, 3, -4], [2, 2])
    #expect(Array(try Elementwise.binary("Pow", x, .float([3], [])).floats) == [0.125, 8, 27, -64])
    let mixed = try Elementwise.binary("Pow", x, .float([2, 0.5], [2])).floats
    #expect(Array(mixed.prefix(3)) == [0.25, Foundation.pow(2, 0.5), 9] && mixed[3].isNaN)
    #expect(try BroadcastLoops.power(x, .float([2, 2], [2]), output: FloatBuffer.init(uninitializedCount:)) == nil)
  }

  /// 1/(1 + e^−x) in Double.
  static func sigmoid(_ x: Float) -> Double { 1 / (1 + Foundation.exp(-Double(x))) }

  @Test(arguments: [Int32(ATTNC_VECTOR_WIDEST), Int32(ATTNC_VECTOR_AVX2), Int32(ATTNC_VECTOR_PORTABLE)])
  func everyInstructionSetsSigmoidWithinThreeUlp(limit: Int32) {
    // -100…100 in steps of 1/32 (plus odd counts so the vector loops leave tails), and specials.
    let x: [Float] = (-3200...3200).map { Float($0) / 32 } + [-88, -87.4, 88.8, 1e-8, -1e-8, 0, -0, 150, -150, .infinity, -.infinity, .nan]
    for count in [x.count, 1, 7, 15, 17, 31] {
      var y = [Float](repeating: 0, count: count)
      x.withUnsafeBufferPointer { s in y.withUnsafeMutableBufferPointer { t in attnc_sigmoid_limited(s.baseAddress, t.baseAddress, count, limit) } }
      for i in 0..<count {
        let v = x[i]
        if v.isNaN { #expect(y[i].isNaN); continue }
        let exact = Self.sigmoid(v)
        let ulp = Double(Float(exact).ulp)
        // exp's 2 ulp carry into e/(1 + e) for negative x; below e's range the result is 0.
        let close = abs(Double(y[i]) - exact) <= 3 * max(ulp, Double(Float.leastNormalMagnitude))
        #expect(close, "limit \(limit) sigmoid(\(v)) = \(y[i]), exact \(exact)")
      }
    }
  }

  @Test func sigmoidKernelWritesInPlaceAndKeepsShape() throws {
    let values: [Float] = (0..<1000).map { Float($0) * 0.05 - 25 }
    let x = Tensor.float(values, [10, 100])
    let y = try Elementwise.unary("Sigmoid", x)
    #expect(y.shape == [10, 100])
    for (value, input) in zip(y.floats, values) { #expect(abs(Double(value) - Self.sigmoid(input)) <= 3 * Double(Float(Self.sigmoid(input)).ulp)) }
  }
}

extension SelectPowerSigmoidTests {
  /// Cast from float to int64 (no wrap step) and to int32 (wrapped): truncation toward zero,
  /// NaN to 0, and values beyond int64 held at ±9.2e18, element by element.
  @Test func castFloatToIntegersTruncates() throws {
    let values: [Float] = [0, -0, 1.9, -1.9, 2.5, -2.5, 3e9, -3e9, 1e19, -1e19, .nan, .infinity, -.infinity, 123456.7]
    let x = Tensor.float(values, [2, 7])
    let wide = try Elementwise.cast(x, to: .int64)
    #expect(wide.dtype == .int64 && wide.shape == [2, 7])
    let expected = values.map { v -> Int64 in v.isNaN ? 0 : Int64(Swift.max(-9.2e18, Swift.min(9.2e18, v))) }
    #expect(wide.ints == expected)
    let narrow = try Elementwise.cast(x, to: .int32)
    #expect(narrow.ints == expected.map { Int64(Int32(truncatingIfNeeded: $0)) })
    let back = try Elementwise.cast(wide, to: .float)
    #expect(Array(back.floats) == expected.map { Float($0) })
  }
}

extension SelectPowerSigmoidTests {
  /// Neg, Abs, Relu, Sqrt and Reciprocal by the vectorised loops against their formulas, bit
  /// for bit, on signed zeros, infinities, NaN, subnormals and an odd count.
  @Test(arguments: ["Neg", "Abs", "Relu", "Sqrt", "Reciprocal"])
  func simpleUnaryMatchesFormula(op: String) throws {
    let values: [Float] = [0, -0, 1, -1, 2.5, -3.75, .infinity, -.infinity, .nan, 1e-40, -1e-40, 3e38] + (0..<40).map { Float($0) * 0.3 - 6 }
    let f: (Float) -> Float
    switch op {
    case "Neg": f = { -$0 }
    case "Abs": f = { $0 < 0 || ($0 == 0 && $0.sign == .minus) ? -$0 : $0 }
    case "Relu": f = { $0.isNaN ? $0 : ($0 > 0 ? $0 : 0) }
    case "Sqrt": f = { Float(Double($0).squareRoot()) }
    default: f = { Float(1 / Double($0)) }
    }
    let y = try Elementwise.unary(op, .float(values, [values.count]))
    for (value, input) in zip(y.floats, values) {
      let expected = f(input)
      // Relu of −0 may give either zero.
      let same = value.bitPattern == expected.bitPattern || (value.isNaN && expected.isNaN) || (op == "Relu" && value == 0 && expected == 0)
      #expect(same, "\(op)(\(input)) = \(value), expected \(expected)")
    }
  }
}
