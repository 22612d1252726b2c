import AttncKernels
import AttncTensor
import CAttnc
import Foundation
import Testing

/// `LinearAlgebra.layerNorm` (the C row loop, `attnc_layer_norm`) against a plain Double
/// computation of the formula.
@Suite struct LayerNormTests {
  /// Double-precision reference: per row (x − mean)/√(var + ε)·γ + β, mean 0 for RMS.
  static func reference(_ x: [Float], inner: Int, gamma: [Float], beta: [Float]?, epsilon: Double, rms: Bool)
    -> (y: [Double], means: [Double], inverses: [Double])
  {
    var y = [Double](repeating: 0, count: x.count), means: [Double] = [], inverses: [Double] = []
    for r in 0..<(x.count / inner) {
      let row = x[(r * inner)..<((r + 1) * inner)].map(Double.init)
      let mean = rms ? 0 : row.reduce(0, +) / Double(inner)
      let variance = row.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / Double(inner)
      let inverse = 1 / (variance + epsilon).squareRoot()
      for i in 0..<inner { y[r * inner + i] = (row[i] - mean) * inverse * Double(gamma[i]) + Double(beta?[i] ?? 0) }
      means.append(mean)
      inverses.append(inverse)
    }
    return (y, means, inverses)
  }

  @Test(arguments: [1, 7, 8, 9, 33, 384, 1000])
  func matchesTheFormula(inner: Int) throws {
    var generator = SystemRandomNumberGenerator()
    let rows = 5
    // An offset mean and a spread, so that subtracting the mean matters.
    let x = (0..<(rows * inner)).map { _ in Float.random(in: -2...4, using: &generator) }
    let gamma = (0..<inner).map { _ in Float.random(in: 0.5...1.5, using: &generator) }
    let beta = (0..<inner).map { _ in Float.random(in: -1...1, using: &generator) }
    for rms in [false, true] {
      for withBias in [false, true] {
        let outputs = try LinearAlgebra.layerNorm(
          .float(x, [rows, inner]), scale: .float(gamma, [inner]), bias: withBias ? .float(beta, [inner]) : nil,
          axis: -1, epsilon: 1e-5, rms: rms, statistics: true)
        let expected = Self.reference(x, inner: inner, gamma: gamma, beta: withBias ? beta : nil, epsilon: 1e-5, rms: rms)
        let y = outputs[0].floats.owned
        #expect(outputs[0].shape == [rows, inner])
        for i in y.indices {
          #expect(abs(Double(y[i]) - expected.y[i]) <= 1e-4 * max(1, abs(expected.y[i])), "inner \(inner) rms \(rms) element \(i)")
        }
        #expect(outputs[1].shape == [rows, 1] && outputs[2].shape == [rows, 1])
        for r in 0..<rows {
          #expect(abs(Double(outputs[1].floats[r]) - expected.means[r]) <= 1e-5 * max(1, abs(expected.means[r])))
          #expect(abs(Double(outputs[2].floats[r]) - expected.inverses[r]) <= 1e-4 * expected.inverses[r])
        }
      }
    }
  }

  @Test func constantRowGivesBetaAndInPlaceMatches() throws {
    // A constant row has zero variance: the output is β. The kernel may write over its input
    // (the arena plans LayerNormalization in place): the result is the same.
    let inner = 64, rows = 600
    var x = [Float](repeating: 3, count: inner)
    x += (0..<((rows - 1) * inner)).map { Float(($0 * 7919) % 101) / 10 - 5 }
    let gamma = [Float](repeating: 2, count: inner), beta = (0..<inner).map { Float($0) / 64 }
    let separate = try LinearAlgebra.layerNorm(
      .float(x, [rows, inner]), scale: .float(gamma, [inner]), bias: .float(beta, [inner]), axis: 1, epsilon: 1e-5)[0]
    #expect(Array(separate.floats.owned.prefix(inner)) == beta)
    var inPlace = x
    inPlace.withUnsafeMutableBufferPointer { buffer in
      attnc_layer_norm(buffer.baseAddress!, buffer.baseAddress!, rows, inner, gamma, beta, 1e-5, 0, nil, nil)
    }
    #expect(inPlace == separate.floats.owned)
  }

  /// `attnc_center_rows` (Fastmax's token centring) on strided rows, and `attnc_scale`, against
  /// Double sums; depths cover the 8-wide loop, its tail, and both at once.
  @Test(arguments: [1, 7, 8, 13, 64, 67])
  func centresRows(depth: Int) {
    var generator = SystemRandomNumberGenerator()
    let rows = 6, stride = depth + 3
    let x = (0..<(rows * stride)).map { _ in Float.random(in: -1...3, using: &generator) }
    var y = [Float](repeating: .nan, count: rows * depth), norms = [Float](repeating: .nan, count: rows)
    attnc_center_rows(x, stride, &y, rows, depth, &norms)
    for r in 0..<rows {
      let row = x[(r * stride)..<(r * stride + depth)].map(Double.init)
      let mean = row.reduce(0, +) / Double(depth)
      let centred = row.map { $0 - mean }
      for t in 0..<depth { #expect(abs(Double(y[r * depth + t]) - centred[t]) <= 1e-5, "row \(r) feature \(t)") }
      let norm = centred.map { $0 * $0 }.reduce(0, +).squareRoot()
      #expect(abs(Double(norms[r]) - norm) <= 1e-5 * max(1, norm), "row \(r) norm")
    }
    let before = y
    attnc_scale(&y, y.count, 0.25)
    for (scaled, original) in zip(y, before) { #expect(scaled == original * 0.25) }
  }
}
