import AttncIR
import AttncTensor

/// The guard both torch exporters put after the Softmax of `scaled_dot_product_attention`: a
/// row whose keys are all masked with −inf has NaN probabilities, and the guard turns them into
/// zeros before the product with V:
///
///     Where(IsNaN(p), 0, p)          Where(Not(IsNaN(p)), p, 0)
///
/// with `Cast`s to bool allowed on the condition and the zero any one-element constant. The
/// fused kernel gives exactly these zeros for fully masked rows (`TiledAttention`), so the
/// matcher reads the guarded probabilities as the probabilities themselves.
enum NaNGuard {
  /// The value the product with V reads for probabilities `p`: `p` itself when `p` has one
  /// reader, or the output of the guard when `p` is read exactly by one guard (its IsNaN and its
  /// Where) and nothing else.
  /// - Returns: nil when `p` is used otherwise (the caller declines with its own reason).
  static func guardedValue(_ p: ValueID, _ m: GraphMatching) -> ValueID? {
    guard !m.outputs.contains(p), let readers = m.consumers[p] else { return nil }
    if readers.count == 1 { return p }
    guard readers.count == 2 else { return nil }
    func reader(_ type: String) -> Int? { readers.first { m.graph.nodes[$0].domain.isEmpty && m.graph.nodes[$0].opType == type } }
    guard let testIndex = reader("IsNaN"), let selectIndex = reader("Where") else { return nil }
    let (test, select) = (m.graph.nodes[testIndex], m.graph.nodes[selectIndex])
    guard test.inputs.count == 1, test.inputs[0] == p, select.inputs.count == 3,
      let isNaN = test.outputs.first, let selected = select.outputs.first,
      let (condition, negated) = condition(from: isNaN, reaching: selectIndex, m)
    else { return nil }
    // Where(c, x, y) = c ? x : y. NaN rows must take the zero, the others p.
    let (whenNaN, otherwise) = negated ? (select.inputs[2], select.inputs[1]) : (select.inputs[1], select.inputs[2])
    guard select.inputs[0] == condition, otherwise == p, let zero = whenNaN, zero != p, isZero(zero, m) else { return nil }
    return selected
  }

  /// Follows `IsNaN`'s output through bool `Cast`s and at most one `Not` (each read once) to the
  /// value that node `select` (the Where) reads; `negated` after a `Not`.
  static func condition(from start: ValueID, reaching select: Int, _ m: GraphMatching) -> (ValueID, negated: Bool)? {
    var current = start
    var negated = false
    for _ in 0..<4 {
      guard let (index, reader) = m.soleConsumer(current) else { return nil }
      if index == select { return (current, negated) }
      guard reader.domain.isEmpty, reader.inputs.count == 1, let next = reader.outputs.first else { return nil }
      if reader.opType == "Not", !negated {
        negated = true
      } else if reader.opType == "Cast", m.graph.values[next].type?.dtype == .bool {
        // A cast to bool of a bool keeps the condition.
      } else {
        return nil
      }
      current = next
    }
    return nil
  }

  /// A one-element constant equal to zero (any numeric type; a `Cast` of one is folded earlier).
  static func isZero(_ value: ValueID, _ m: GraphMatching) -> Bool {
    guard let constant = m.graph.values[value].constant, constant.dtype != .bool, constant.dtype != .string,
      let element = constant.scalarDouble
    else { return false }
    return element == 0
  }
}
