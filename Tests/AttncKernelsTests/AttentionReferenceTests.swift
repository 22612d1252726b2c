import AttncKernels
import Testing

/// Sliding windows of the ONNX Attention reference kernel. With Q = 0 every score is equal, so a
/// query's output is the plain mean of V over the keys its window (and causal cut) allows.
@Suite struct AttentionReferenceTests {
  /// One batch and head, three queries and keys, d = 1, V = [1, 2, 4].
  static func output(causal: Bool, left: Int, right: Int) throws -> [Float] {
    let q = Tensor.float([0, 0, 0], [1, 1, 3, 1])
    let k = Tensor.float([1, 1, 1], [1, 1, 3, 1])
    let v = Tensor.float([1, 2, 4], [1, 1, 3, 1])
    let options = AttentionReference.Options(
      qHeads: nil, kvHeads: nil, scale: nil, causal: causal, softcap: 0, qkMode: 0,
      leftWindow: left,
      rightWindow: right)
    return try AttentionReference.run(
      q: q, k: k, v: v, mask: nil, pastKey: nil, pastValue: nil, nonpad: nil, options: options)[0]
      .floats.owned
  }
}

extension AttentionReferenceTests {
  /// Query i sees keys max(0, i − 1)…i: means of [1], [1, 2], [2, 4].
  @Test func causalLeftWindowKeepsTheLastKeys() throws {
    #expect(try Self.output(causal: true, left: 1, right: -1) == [1, 1.5, 3])
  }

  /// Query i sees keys i − 1…i + 1: means of [1, 2], [1, 2, 4], [2, 4].
  @Test func bidirectionalWindowReachesBothSides() throws {
    let y = try Self.output(causal: false, left: 1, right: 1)
    #expect(y[0] == 1.5 && abs(y[1] - 7.0 / 3) < 1e-6 && y[2] == 3)
  }

  /// Unbounded on both sides is full attention: every query gets the mean 7/3.
  @Test func unboundedWindowIsFullAttention() throws {
    #expect(
      try Self.output(causal: false, left: -1, right: -1).allSatisfy { abs($0 - 7.0 / 3) < 1e-6 })
  }
}

// MARK: - Per-key weights

extension AttentionReferenceTests {
  /// With Q = 0 every score is equal, so the output is the mean of V weighted by the key weights.
  static func weightedMean(_ weights: [Float], causal: Bool = false) throws -> [Float] {
    let q = Tensor.float([0, 0, 0], [1, 1, 3, 1])
    let k = Tensor.float([1, 1, 1], [1, 1, 3, 1])
    let v = Tensor.float([1, 2, 4], [1, 1, 3, 1])
    let options = AttentionReference.Options(
      qHeads: nil, kvHeads: nil, scale: nil, causal: causal, softcap: 0, qkMode: 0)
    return try AttentionReference.run(
      q: q, k: k, v: v, mask: nil, pastKey: nil, pastValue: nil, nonpad: nil,
      keyWeights: .float(weights, [1, 3]), options: options)[0].floats.owned
  }

  /// Weights 1, 0, 3: (1·1 + 3·4) / 4 for every query.
  @Test func keyWeightsWeighTheValues() throws {
    #expect(try Self.weightedMean([1, 0, 3]).allSatisfy { abs($0 - 3.25) < 1e-6 })
  }

  /// Causal: query 0 sees key 0 only, query 1 keys 0–1, query 2 all three.
  @Test func weightlessVisibleKeysGiveZeroRows() throws {
    let y = try Self.weightedMean([0, 2, 1], causal: true)
    #expect(y[0] == 0 && abs(y[1] - 2) < 1e-6 && abs(y[2] - 8.0 / 3) < 1e-6)
    #expect(try Self.weightedMean([0, 0, 0]) == [0, 0, 0])
  }

  @Test func negativeKeyWeightsAreAnError() {
    #expect(throws: (any Error).self) { try Self.weightedMean([1, -1, 1]) }
  }
}
