import AttncKernels
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
