import AttncTensor

/// Placeholder for an op type attnc does not implement: the graph can still be imported and
/// printed (`inspect`), but shape inference leaves its outputs unknown and planning refuses it.
public struct UnsupportedOp: Op {
  public let opType: String
  public let domain: String

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let name = domain.isEmpty ? opType : "\(domain).\(opType)"
    throw AttncError.unsupported("op type '\(name)' is not supported")
  }
}
