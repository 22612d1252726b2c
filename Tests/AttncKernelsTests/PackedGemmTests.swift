import AttncKernels
import AttncTensor
import Foundation
import Testing

/// `PackedGemm` (the `PackedMatMul` kernel, `attnc_packed_gemm.h`) against a plain Double
/// computation of `activation(alpha·A×B + addends)`, on every instruction set the machine has.
@Suite struct PackedGemmTests {
  /// `[k, n]` packed into panels.
  static func packed(_ b: [Float], k: Int, n: Int) -> Tensor {
    var out = [Float](repeating: .nan, count: PackedGemm.packedCount(k: k, n: n))
    b.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { PackedGemm.pack(source.baseAddress!, k: k, n: n, into: $0.baseAddress!) }
    }
    return .float(out, [(n + PackedGemm.panel - 1) / PackedGemm.panel, k, PackedGemm.panel])
  }

  /// Double-precision reference over rows × n; each addend is (values, row stride, column stride).
  static func reference(
    _ a: [Float], _ b: [Float], rows: Int, k: Int, n: Int, alpha: Double, addends: [([Float], Int, Int)],
    activation: String
  ) -> [Double] {
    var y = [Double](repeating: 0, count: rows * n)
    for i in 0..<rows {
      for j in 0..<n {
        var sum = 0.0
        for t in 0..<k { sum += Double(a[i * k + t]) * Double(b[t * n + j]) }
        var v = alpha * sum
        for (values, row, column) in addends { v += Double(values[i * row + j * column]) }
        if activation == "relu" {
          v = max(v, 0)
        } else if activation != "none" {
          v = VectorMathTests.gelu(v, tanh: activation == "gelu_tanh")
        }
        y[i * n + j] = v
      }
    }
    return y
  }

  /// An addend as the tensor given to the kernel and as (values, row stride, column stride) for
  /// `reference`.
  typealias Addend = (Tensor, ([Float], Int, Int))

  /// Random A `[batch·m, k]` and B `[k, n]` in [-1, 1], and the addend sets each epilogue test
  /// runs: none, a bias, a residual plus a bias, a one-element bias.
  static func operands(batch: Int, m: Int, k: Int, n: Int) -> (a: [Float], b: [Float], addends: [[Addend]]) {
    var generator = SystemRandomNumberGenerator()
    func random(_ count: Int) -> [Float] { (0..<count).map { _ in Float.random(in: -1...1, using: &generator) } }
    let rows = batch * m
    let a = random(rows * k), b = random(k * n), bias = random(n), residual = random(rows * n)
    let sets: [[Addend]] = [
      [],
      [(.float(bias, [n]), (bias, 0, 1))],
      [(.float(residual, [batch, m, n]), (residual, n, 1)), (.float(bias, [1, 1, n]), (bias, 0, 1))],
      [(.float([0.25], [1]), ([0.25], 0, 0))],
    ]
    return (a, b, sets)
  }

  @Test func packingRoundTripsAndPadsWithZeros() {
    for (k, n) in [(1, 1), (7, 15), (5, 16), (3, 33)] {
      let b = (0..<(k * n)).map { Float($0) + 1 }
      let panels = Self.packed(b, k: k, n: n)
      #expect(PackedGemm.unpack(panels, k: k, n: n).floats.map { $0 } == b)
      let padding = panels.floats.enumerated().filter { index, _ in (index / (k * PackedGemm.panel)) * PackedGemm.panel + index % PackedGemm.panel >= n }
      #expect(padding.filter { $0.element != 0 }.isEmpty, "k \(k) n \(n)")
    }
  }

  /// Shapes with partial row strips, column tails and two depth passes (k > 256); A of rank 3
  /// (its leading axes are rows); a bias, a bias plus a residual, a one-element bias.
  @Test(arguments: InstructionSets.allCases)
  func matchesThePlainProduct(kernels: InstructionSets) throws {
    for (batch, m, k, n) in [(1, 1, 1, 1), (1, 13, 7, 15), (2, 25, 300, 50), (1, 40, 64, 33), (1, 130, 257, 70)] {
      let rows = batch * m
      let (a, b, sets) = Self.operands(batch: batch, m: m, k: k, n: n)
      for addends in sets {
        for activation in ["none", "gelu", "gelu_tanh"] {
          let y = try PackedGemm.multiply(
            .float(a, [batch, m, k]), packed: Self.packed(b, k: k, n: n), columns: n, addends: addends.map(\.0),
            alpha: 0.5, activation: activation, kernels: kernels)
          let expected = Self.reference(
            a, b, rows: rows, k: k, n: n, alpha: 0.5, addends: addends.map(\.1), activation: activation)
          #expect(y.shape == [batch, m, n])
          let worst = zip(y.floats, expected).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
          #expect(worst < 1e-5, "\(kernels) [\(batch), \(m), \(k)] × [\(k), \(n)], \(addends.count) addends, \(activation): \(worst)")
        }
      }
    }
  }

  @Test func refusesWeightsThatDoNotFit() {
    let panels = Self.packed([Float](repeating: 1, count: 12), k: 3, n: 4)
    #expect(throws: AttncError.self) {
      try PackedGemm.multiply(.float([1, 2], [1, 2]), packed: panels, columns: 4, addends: [], alpha: 1, activation: "none")
    }
    #expect(throws: AttncError.self) {
      try PackedGemm.multiply(
        .float([1, 2, 3], [1, 3]), packed: panels, columns: 4, addends: [.float([1, 2], [2])], alpha: 1, activation: "none")
    }
  }
}
