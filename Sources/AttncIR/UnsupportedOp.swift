import AttncTensor

/// Placeholder for an op type attnc does not implement: the graph can still be imported and
/// printed (`inspect`), but shape inference leaves its outputs unknown and planning refuses it.
public struct UnsupportedOp: Op {
  public let opType: String
  public let opDomain: String

  public init(opType: String, domain: String) {
    self.opType = opType
    self.opDomain = domain
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let name = opDomain.isEmpty ? opType : "\(opDomain).\(opType)"
    throw AttncError.unsupported("op type '\(name)' is not supported")
  }
}
