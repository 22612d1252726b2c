import AttncTensor

/// Ops that can be no-ops: `remove-no-ops` bypasses a node whose op says its output 0 is its
/// input 0 unchanged (an `Identity`, a `Cast` to the same type, an inference `Dropout`).
public protocol Bypassable: Op {
  /// Whether output 0 equals input 0 for every input the facts allow.
  func isNoOp(_ context: NodeContext) -> Bool
}

extension Bypassable {
  /// The common case: the output's type is the input's (a `Reshape` to the same dims).
  func outputTypeIsInputType(_ context: NodeContext) -> Bool {
    guard let input = context.inputs.first??.type, let output = context.outputs.first ?? nil else { return false }
    return input == output
  }
}

/// One merged value an op reads: the input position and the value's token axis.
public struct TokenRead: Sendable {
  public var position: Int
  public var axis: Int

  public init(position: Int, axis: Int) {
    self.position = position
    self.axis = axis
  }
}

/// How an op treats merged tokens (token merging, `MergeTokens`).
public enum TokenRule: Sendable, Equatable {
  /// Per token: each output's token axis (nil: none).
  case perToken([Int?])
  /// A reshape keeping the leading axes up to the token axis: its target, to rewrite with the
  /// merged length.
  case reshape(axis: Int, target: [Dim])
  /// Reads the class token (position 0, never merged): the result has no token axis.
  case leaves
  /// Not per token, with the reason (the values are unmerged before the op).
  case notPerToken(String)

  /// An elementwise op with broadcasting: per token when every merged operand has its token
  /// axis at the same output axis and every other operand broadcasts along it.
  public static func elementwise(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let facts = context.inputs
    let rank = facts[reads[0].position]?.rank ?? 0
    let outputRank = facts.compactMap { $0?.rank }.max() ?? rank
    let aligned = reads[0].axis + outputRank - rank
    for (position, fact) in facts.enumerated() {
      guard let fact else { continue }
      let offset = outputRank - fact.rank
      if let read = reads.first(where: { $0.position == position }) {
        if read.axis + offset != aligned { return .notPerToken("operands' token axes differ") }
      } else if aligned - offset >= 0, fact.dims[aligned - offset] != Dim(1) {
        return .notPerToken("operand \(position) does not broadcast along the token axis")
      }
    }
    return .perToken(Array(repeating: aligned, count: context.outputs.count))
  }
}

/// Ops that may act per token along an axis: token merging keeps their inputs merged when they
/// do, and unmerges before them otherwise. Ops without this capability are never per token.
public protocol Tokenwise: Op {
  /// The op's rule for the merged inputs `reads` (at least one).
  func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule
}
