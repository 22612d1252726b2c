import AttncIR
import AttncTensor

/// Attention logit softcapping (Gemma 2's `attn_logit_softcapping`) as both torch exporters
/// write it, on the scaled scores and before the mask:
///
///     Mul(Tanh(Div(s, c)), c)        Mul(Tanh(Mul(s, 1/c)), c)
///
/// with either operand order of the Muls. The fused kernel applies the same
/// `softcap(s) = c·tanh(s / c)` (`AttentionScores.softcap`), so the matcher reads `s` and
/// records `c` in the spec.
enum Softcap {
  /// `(s, c)` when `value` is `c·tanh(s / c)` for a positive finite scalar constant `c` and the
  /// values between `s` and `value` each have one reader; nil otherwise.
  static func capped(_ value: ValueID, _ m: GraphMatching) -> (scores: ValueID, cap: Float)? {
    guard let outer = m.producer(value), let (squashed, cap) = m.withScalar(outer, "Mul"), cap.isFinite, cap > 0,
      m.soleConsumer(squashed) != nil, let tanh = m.producer(squashed), tanh.domain.isEmpty, tanh.opType == "Tanh",
      let divided = tanh.inputs.first ?? nil, m.soleConsumer(divided) != nil, let inner = m.producer(divided)
    else { return nil }
    if let (scores, c) = m.withScalar(inner, "Div", constantSecond: true), GraphMatching.near(c, cap) { return (scores, cap) }
    if let (scores, c) = m.withScalar(inner, "Mul"), GraphMatching.near(c, 1 / cap) { return (scores, cap) }
    return nil
  }
}
