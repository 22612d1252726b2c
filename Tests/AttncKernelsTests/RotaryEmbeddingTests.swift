import AttncKernels
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
