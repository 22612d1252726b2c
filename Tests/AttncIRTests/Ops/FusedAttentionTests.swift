import AttncTensor
import Testing

@testable import AttncIR

/// The shape rule of attnc's `FusedAttention` op for its per-key masks: `Q [2, 4, 5, 8]`,
/// `K [2, 2, 7, 8]`, `V [2, 2, 7, 6]` (GQA) and a fourth input.
@Suite struct FusedAttentionTests: UsesComputeFixtures {
  static let q = fact(.float, [2, 4, 5, 8])
  static let k = fact(.float, [2, 2, 7, 8])
  static let v = fact(.float, [2, 2, 7, 6])

  static func outputTypes(_ mask: AttentionSpec.Mask, _ fourth: ValueFact?) throws -> [TensorType] {
    let spec = AttentionSpec(qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 6, scale: 0.35, mask: mask)
    return try FusedAttention(spec: spec).outputTypes([q, k, v] + (fourth.map { [$0] } ?? []), outputCount: 1)
  }

  /// The error message of `outputTypes`, or nil when it succeeds.
  static func failure(_ mask: AttentionSpec.Mask, _ fourth: ValueFact?) -> String? {
    do {
      _ = try outputTypes(mask, fourth)
      return nil
    } catch {
      return "\(error)"
    }
  }
}

extension FusedAttentionTests {
  @Test func keyWeightsAreFloatBatchByKeys() throws {
    #expect(try Self.outputTypes(.keyWeights, Self.fact(.float, [2, 7])) == [TensorType(.float, [2, 4, 5, 6])])
    let symbolic = try FusedAttention(
      spec: AttentionSpec(qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 6, scale: 0.35, mask: .keyWeights)
    ).outputTypes(
      [
        Self.fact(.float, [Self.batch, 4, Self.seq, 8]), Self.fact(.float, [Self.batch, 2, Self.seq, 8]),
        Self.fact(.float, [Self.batch, 2, Self.seq, 6]), Self.fact(.float, [Self.batch, Self.seq]),
      ], outputCount: 1)
    #expect(symbolic == [TensorType(.float, [Self.batch, 4, Self.seq, 6])])
  }

  @Test func refusesKeyWeightsThatDoNotFit() {
    let cases: [(ValueFact?, String)] = [
      (Self.fact(.int64, [2, 7]), "key weights must be float32 [B, L]"),
      (Self.fact(.float, [2, 1, 7]), "key weights must be float32 [B, L]"),
      (Self.fact(.float, [3, 7]), "key weights' batch and Q's batch differ: 3 and 2"),
      (Self.fact(.float, [2, 6]), "key weights' length and the key length differ: 6 and 7"),
      (nil, "expects 4 inputs"),
    ]
    for (fourth, message) in cases {
      let failure = Self.failure(.keyWeights, fourth)
      #expect(failure?.contains(message) == true, "\(String(describing: failure))")
    }
  }

  /// Key padding keeps taking any element type (exporters write int64 masks).
  @Test func keyPaddingStillTakesIntegerMasks() throws {
    #expect(try Self.outputTypes(.keyPadding, Self.fact(.int64, [2, 7])) == [TensorType(.float, [2, 4, 5, 6])])
    #expect(AttentionSpec.Mask(rawValue: "key_weights") == .keyWeights)
  }
}
