import AttncKernels
import AttncTestSupport
import Foundation
import Testing

/// RoPE on hand-checkable cases: a quarter turn maps (x₁, x₂) to (−x₂, x₁).
@Suite struct RotaryEmbeddingTests {
  /// One token, one head, D = 4, cos = 0, sin = 1 for every pair (a quarter turn).
  let quarterTurn = (cos: Tensor.float([0, 0], [1, 2]), sin: Tensor.float([1, 1], [1, 2]))
  let x = Tensor.float([1, 2, 3, 4], [1, 1, 1, 4])
  let position = Tensor.int([0], [1, 1])

  @Test func halvesArePaired() throws {
    let y = try RotaryEmbeddingKernel.run(x, cos: quarterTurn.cos, sin: quarterTurn.sin, positions: position, interleaved: false, rotaryDim: 0, numHeads: 0)
    // pairs (x0, x2) and (x1, x3)
    #expect(y.floats == [-3, -4, 1, 2])
  }

  @Test func neighboursArePairedWhenInterleaved() throws {
    let y = try RotaryEmbeddingKernel.run(x, cos: quarterTurn.cos, sin: quarterTurn.sin, positions: position, interleaved: true, rotaryDim: 0, numHeads: 0)
    #expect(y.floats == [-2, 1, -4, 3])
  }

  @Test func featuresPastTheRotaryDimPassThrough() throws {
    let y = try RotaryEmbeddingKernel.run(x, cos: .float([0], [1, 1]), sin: .float([1], [1, 1]), positions: position, interleaved: false, rotaryDim: 2, numHeads: 0)
    #expect(y.floats == [-2, 1, 3, 4])
  }

  @Test func positionOutsideTheTableIsAnError() throws {
    #expect(throws: (any Error).self) {
      try RotaryEmbeddingKernel.run(x, cos: quarterTurn.cos, sin: quarterTurn.sin, positions: .int([5], [1, 1]), interleaved: false, rotaryDim: 0, numHeads: 0)
    }
  }
}

extension RotaryEmbeddingTests {
  /// `[1, 1, 2, 4]`, rotary dim 2, interleaved, positions [1, 0] against a plain loop: only the
  /// pair (x0, x1) of each token turns, by its position's angle.
  @Test func interleavedRotaryDimMatchesAPlainLoop() throws {
    let x: [Float] = [1, 2, 3, 4, 5, 6, 7, 8]
    let angles: [Float] = [0.3, 1.1]  // one angle per table row, R/2 = 1
    let cos = Tensor.float(angles.map { Foundation.cos($0) }, [2, 1])
    let sin = Tensor.float(angles.map { Foundation.sin($0) }, [2, 1])
    let positions: [Int64] = [1, 0]
    var expected = x
    for s in 0..<2 {
      let angle = angles[Int(positions[s])]
      let (x1, x2) = (x[s * 4], x[s * 4 + 1])
      expected[s * 4] = x1 * Foundation.cos(angle) - x2 * Foundation.sin(angle)
      expected[s * 4 + 1] = x1 * Foundation.sin(angle) + x2 * Foundation.cos(angle)
    }
    let y = try RotaryEmbeddingKernel.run(
      .float(x, [1, 1, 2, 4]), cos: cos, sin: sin, positions: .int(positions, [1, 2]), interleaved: true,
      rotaryDim: 2, numHeads: 0)
    #expect(zip(y.floats, expected).allSatisfy { abs($0 - $1) < 1e-6 })
    #expect(Array(y.floats[2..<4]) == [3, 4] && Array(y.floats[6..<8]) == [7, 8])
  }
}

// MARK: - Tables broadcast over X, one entry per feature (the exporters' form)

extension RotaryEmbeddingTests {
  /// `x·cos + rotate(x)·sin` written out, with `cos`/`sin` `[S, W]` broadcast over `[B, H, S, D]`
  /// (W = R: each feature its own entry; W = R/2: one per pair), rotary on the first `R`.
  static func plain(_ x: [Float], _ shape: [Int], cos: [Float], sin: [Float], width: Int, rotary: Int, interleaved: Bool) -> [Float] {
    let (depth, length) = (shape[3], shape[2])
    let half = rotary / 2
    var y = x
    for row in 0..<(x.count / depth) {
      let table = (row % length) * width
      func entry(_ t: [Float], _ feature: Int, pair: Int) -> Float { t[table + (width == rotary ? feature : pair)] }
      for k in 0..<half {
        let (i, j) = interleaved ? (2 * k, 2 * k + 1) : (k, k + half)
        let (a, b) = (x[row * depth + i], x[row * depth + j])
        y[row * depth + i] = a * entry(cos, i, pair: k) + (-b) * entry(sin, i, pair: k)
        y[row * depth + j] = b * entry(cos, j, pair: k) + a * entry(sin, j, pair: k)
      }
    }
    return y
  }

  @Test(arguments: [(8, 8, false), (8, 4, false), (12, 4, false), (8, 8, true), (8, 4, true), (10, 6, true)])
  func broadcastTablesMatchTheGraphsFormula(_ sizes: (depth: Int, rotary: Int, interleaved: Bool)) throws {
    let shape = [2, 3, 5, sizes.depth]
    let x = SeededValues.floats(shape.reduce(1, *), seed: 7, amplitude: 2)
    for width in [sizes.rotary, sizes.rotary / 2] {
      // Unrelated angles for every entry: the two features of a pair read their own entries.
      let cos = SeededValues.floats(5 * width, seed: 8, amplitude: 1), sin = SeededValues.floats(5 * width, seed: 9, amplitude: 1)
      for tableShape in [[5, width], [1, 1, 5, width]] {
        let y = try RotaryEmbeddingKernel.runBroadcast(
          .float(x, shape), cos: .float(cos, tableShape), sin: .float(sin, tableShape), rotaryDim: sizes.rotary,
          interleaved: sizes.interleaved)
        let expected = Self.plain(x, shape, cos: cos, sin: sin, width: width, rotary: sizes.rotary, interleaved: sizes.interleaved)
        #expect(Reference.maxDifference(y.floats, expected) < 1e-6, "\(sizes), width \(width), tables \(tableShape)")
      }
    }
  }

  @Test func tablesThatDoNotBroadcastAreAnError() throws {
    let x = Tensor.float([Float](repeating: 1, count: 2 * 3 * 4), [2, 3, 4])
    for table in [Tensor.float([Float](repeating: 0, count: 4 * 4), [4, 4]), .float([0, 0, 0], [1, 3])] {
      #expect(throws: (any Error).self) {
        try RotaryEmbeddingKernel.runBroadcast(x, cos: table, sin: table, rotaryDim: 4, interleaved: false)
      }
    }
  }

  /// ONNX Runtime's `position_ids` of one element: the first token's position, the rest follow.
  @Test func oneStartPositionNumbersTheTokens() throws {
    let x = Tensor.float([1, 2, 3, 4, 5, 6, 7, 8], [1, 1, 2, 4])
    let angles: [Float] = [0.1, 0.2, 0.7, 0.9]
    let cos = Tensor.float(angles.map { Foundation.cos($0) }, [2, 2]), sin = Tensor.float(angles.map { Foundation.sin($0) }, [2, 2])
    let started = try RotaryEmbeddingKernel.run(x, cos: cos, sin: sin, positions: .int([0], [1]), interleaved: false, rotaryDim: 0, numHeads: 0)
    let listed = try RotaryEmbeddingKernel.run(x, cos: cos, sin: sin, positions: .int([0, 1], [1, 2]), interleaved: false, rotaryDim: 0, numHeads: 0)
    #expect(started.floats.owned == listed.floats.owned)
  }
}
