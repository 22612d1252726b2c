import AttncKernels
import AttncTensor
import Foundation
import Testing

/// attnc's int8 GEMM (`QuantizedGemm`, `attnc_quantized_gemm.h`) against plain integer loops,
/// on every instruction set the machine has (AVX-512 VNNI, AVX2, plain C): `MatMulInteger`'s
/// exact int32 products with every zero-point form and signedness, and the dynamically
/// quantized linear layer (`QuantizedMatMul`) against its op-by-op definition.
@Suite struct QuantizedGemmTests {
  /// `Σ (a − za[i])(b − zb[j])` in Int64 over `[m, k] × [k, n]`, wrapped to Int32.
  static func reference(_ a: [Int64], _ b: [Int64], m: Int, k: Int, n: Int, za: (Int) -> Int64, zb: (Int) -> Int64)
    -> [Int64]
  {
    var y = [Int64](repeating: 0, count: m * n)
    for i in 0..<m {
      for j in 0..<n {
        var sum: Int64 = 0
        for t in 0..<k { sum += (a[i * k + t] - za(i)) * (b[t * n + j] - zb(j)) }
        y[i * n + j] = Int64(Int32(truncatingIfNeeded: sum))
      }
    }
    return y
  }

  static func random(_ count: Int, _ dtype: DType, _ generator: inout some RandomNumberGenerator) -> [Int64] {
    let range: ClosedRange<Int64> = dtype == .int8 ? -128...127 : 0...255
    return (0..<count).map { _ in Int64.random(in: range, using: &generator) }
  }

  /// Strips, column tails, depths that are not multiples of four, every signedness pair, and
  /// zero points absent, scalar, per row of A and per column of B.
  @Test(arguments: InstructionSets.allCases)
  func matMulIntegerIsExact(kernels: InstructionSets) throws {
    var generator = SystemRandomNumberGenerator()
    for (m, k, n) in [(1, 1, 1), (3, 5, 7), (13, 70, 45), (25, 33, 64), (40, 130, 17)] {
      for (aType, bType) in [(DType.uint8, DType.int8), (.int8, .int8), (.uint8, .uint8), (.int8, .uint8)] {
        let a = Self.random(m * k, aType, &generator), b = Self.random(k * n, bType, &generator)
        let zeroForms: [(Tensor?, Tensor?)] = [
          (nil, nil),
          (.int(Self.random(1, aType, &generator), [], dtype: aType), .int(Self.random(1, bType, &generator), [], dtype: bType)),
          (.int(Self.random(m, aType, &generator), [m], dtype: aType), .int(Self.random(n, bType, &generator), [n], dtype: bType)),
          (.int(Self.random(m, aType, &generator), [m, 1], dtype: aType), nil),
        ]
        for (za, zb) in zeroForms {
          let y = try QuantizedGemm.matMulInteger(
            .int(a, [m, k], dtype: aType), .int(b, [k, n], dtype: bType), aZero: za, bZero: zb, kernels: kernels)
          let expected = Self.reference(
            a, b, m: m, k: k, n: n, za: { i in za.map { $0.ints[$0.count == 1 ? 0 : i] } ?? 0 },
            zb: { j in zb.map { $0.ints[$0.count == 1 ? 0 : j] } ?? 0 })
          #expect(y.dtype == .int32 && y.shape == [m, n])
          #expect(y.ints == expected, "\(kernels) \(aType)×\(bType) [\(m), \(k)] × [\(k), \(n)] za \(za?.shape ?? []) zb \(zb?.shape ?? [])")
        }
      }
    }
  }

  /// Batch axes broadcast as numpy's matmul does; per-batch row zero points `[b, m, 1]`.
  @Test func matMulIntegerBroadcastsBatches() throws {
    var generator = SystemRandomNumberGenerator()
    let (m, k, n) = (4, 9, 5)
    let a = Self.random(2 * m * k, .uint8, &generator), b = Self.random(k * n, .int8, &generator)
    let za = Self.random(2 * m, .uint8, &generator)
    let y = try QuantizedGemm.matMulInteger(
      .int(a, [2, m, k], dtype: .uint8), .int(b, [1, k, n], dtype: .int8), aZero: .int(za, [2, m, 1], dtype: .uint8),
      bZero: nil)
    #expect(y.shape == [2, m, n])
    for batch in 0..<2 {
      let expected = Self.reference(
        Array(a[(batch * m * k)..<((batch + 1) * m * k)]), b, m: m, k: k, n: n, za: { za[batch * m + $0] }, zb: { _ in 0 })
      #expect(Array(y.ints[(batch * m * n)..<((batch + 1) * m * n)]) == expected, "batch \(batch)")
    }
  }

  /// Sums past 32 bits wrap, as ONNX allows (255 · 127 · 70000 > 2³¹).
  @Test func accumulationWrapsAt32Bits() throws {
    let k = 70_000
    let y = try QuantizedGemm.matMulInteger(
      .int([Int64](repeating: 255, count: k), [1, k], dtype: .uint8), .int([Int64](repeating: 127, count: k), [k, 1], dtype: .int8),
      aZero: nil, bZero: nil)
    #expect(y.ints == [Int64(Int32(truncatingIfNeeded: Int64(255 * 127 * k)))])
  }

  @Test func refusesOperandsThatDoNotFit() {
    let a = Tensor.int([1, 2], [1, 2], dtype: .uint8)
    #expect(throws: AttncError.self) { try QuantizedGemm.matMulInteger(a, .int([1, 2, 3], [3, 1], dtype: .int8), aZero: nil, bZero: nil) }
    #expect(throws: AttncError.self) { try QuantizedGemm.matMulInteger(.int([1, 2], [1, 2], dtype: .int16), .int([1, 2], [2, 1], dtype: .int8), aZero: nil, bZero: nil) }
    #expect(throws: AttncError.self) {
      try QuantizedGemm.matMulInteger(a, .int([1, 2], [2, 1], dtype: .int8), aZero: .int([1, 2, 3], [3], dtype: .uint8), bZero: nil)
    }
    #expect(throws: AttncError.self) {
      try QuantizedGemm.matMulInteger(a, .int([1, 2], [2, 1], dtype: .int8), aZero: .int([1], [], dtype: .int8), bZero: nil)
    }
  }
}

// MARK: - The dynamically quantized linear layer

extension QuantizedGemmTests {
  /// The layer op by op, as ONNX Runtime's quantizer writes it: DynamicQuantizeLinear, the
  /// exact product, `float(acc) · (a_scale · b_scale[j])`, alpha, addends, GELU.
  static func layerReference(
    _ x: [Float], rows: Int, k: Int, n: Int, weight: [Int64], scales: [Float], zeros: [Int64], alpha: Float,
    addends: [([Float], Int, Int)], activation: String
  ) throws -> [Float] {
    let quantized = try Quantization.dynamicQuantize(.float(x, [rows, k]))
    let acc = reference(
      quantized[0].ints, weight, m: rows, k: k, n: n, za: { _ in quantized[2].ints[0] },
      zb: { zeros[zeros.count == 1 ? 0 : $0] })
    let aScale = quantized[1].floats[0]
    var y = [Float](repeating: 0, count: rows * n)
    for i in 0..<rows {
      for j in 0..<n {
        var v = Float(acc[i * n + j]) * (aScale * scales[scales.count == 1 ? 0 : j])
        if alpha != 1 { v *= alpha }
        for (values, row, column) in addends { v += values[i * row + j * column] }
        y[i * n + j] = v
      }
    }
    if activation == "relu" {
      y = y.map { max($0, 0) }
    } else if activation != "none" {
      y = y.map { Float(VectorMathTests.gelu(Double($0), tanh: activation == "gelu_tanh")) }
    }
    return y
  }

  /// Bit for bit without an activation and with ReLU (the same integers and float operations);
  /// within 1e-5 with GELU (vectorised against Double). Rows above and below the per-thread split, scalar
  /// and per-column scales and zero points, a residual and a bias.
  @Test(arguments: InstructionSets.allCases)
  func dynamicProductMatchesTheOpByOpLayer(kernels: InstructionSets) throws {
    var generator = SystemRandomNumberGenerator()
    for (rows, k, n) in [(1, 3, 5), (7, 64, 33), (70, 45, 80), (130, 96, 40)] {
      let x = (0..<(rows * k)).map { _ in Float.random(in: -3...2, using: &generator) }
      let weight = Self.random(k * n, .int8, &generator)
      let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
      let residual = (0..<(rows * n)).map { _ in Float.random(in: -1...1, using: &generator) }
      let packed = Tensor(QuantizedGemm.packedTensor(weight.map { Int8($0) }, k: k, n: n))
      for (scales, zeros) in [([Float(0.02)], [Int64(0)]), ((0..<n).map { Float($0 + 1) * 1e-3 }, Self.random(n, .int8, &generator))] {
        let quantization = QuantizedGemm.WeightQuantization(scales: scales, zeros: zeros.map { Int32($0) })
        for (addends, layouts) in [([Tensor](), [([Float], Int, Int)]()), ([.float(residual, [rows, n]), .float(bias, [n])], [(residual, n, 1), (bias, 0, 1)])] {
          for (activation, alpha) in [("none", Float(1)), ("none", 0.5), ("gelu", 1), ("relu", 1)] {
            let y = try QuantizedGemm.dynamicProduct(
              .float(x, [rows, k]), packed: packed, columns: n, weights: quantization, addends: addends, alpha: alpha,
              activation: activation, kernels: kernels)
            let expected = try Self.layerReference(
              x, rows: rows, k: k, n: n, weight: weight, scales: scales, zeros: zeros, alpha: alpha, addends: layouts,
              activation: activation)
            let worst = zip(y.floats, expected).map { abs($0 - $1) }.max() ?? 0
            let what = "\(kernels) [\(rows), \(k)] × [\(k), \(n)] \(scales.count) scales \(addends.count) addends \(activation) alpha \(alpha)"
            if activation == "gelu" { #expect(worst < 1e-5, "\(what): \(worst)") } else { #expect(y.floats.map { $0 } == expected, "\(what)") }
          }
        }
      }
    }
  }

  @Test func refusesAPackedWeightOfAnotherShape() {
    let packed = Tensor(QuantizedGemm.packedTensor([Int8](repeating: 1, count: 12), k: 3, n: 4))
    #expect(throws: AttncError.self) {
      try QuantizedGemm.dynamicProduct(
        .float([1, 2, 3, 4, 5], [1, 5]), packed: packed, columns: 4, weights: .init(scales: [1], zeros: nil), addends: [],
        alpha: 1, activation: "none")
    }
  }
}
