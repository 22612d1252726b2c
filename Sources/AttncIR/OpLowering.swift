import AttncKernels
import AttncTensor

/// What an op sees of its node when a pass or the lowering asks it something: the inputs'
/// facts, the outputs' types, and which outputs anything reads.
public struct NodeContext {
  /// Each input's fact (nil for an omitted optional input).
  public var inputs: [ValueFact?]
  /// Each output's type (nil where unknown).
  public var outputs: [TensorType?]
  /// Whether output `k` is read by another node or is a graph output.
  public var isConsumed: (Int) -> Bool

  public init(inputs: [ValueFact?], outputs: [TensorType?], isConsumed: @escaping (Int) -> Bool) {
    self.inputs = inputs
    self.outputs = outputs
    self.isConsumed = isConsumed
  }

  /// Input 0's rank (0 when absent).
  public var rank: Int { inputs.first??.rank ?? 0 }

  /// `axis` normalized against input 0's rank.
  /// - Throws: "axis 5 is out of range for rank 2".
  public func axis(_ axis: Int) throws -> Int { try Shapes.normalize(axis: axis, rank: rank) }
}

/// An op's plan instruction: one kernel call, reading a prefix of the node's inputs and writing
/// a prefix of its outputs.
public struct Lowering {
  public var call: any KernelCall
  /// Inputs the call reads (a prefix); nil for all.
  public var usedInputs: Int?
  /// Outputs the call writes (a prefix); nil for all.
  public var usedOutputs: Int?

  public init(_ call: any KernelCall, usedInputs: Int? = nil, usedOutputs: Int? = nil) {
    self.call = call
    self.usedInputs = usedInputs
    self.usedOutputs = usedOutputs
  }
}

/// Ops that run in a plan: each lowers itself to a typed kernel call, beside its shape rule in
/// the op's own file. The call carries its plan encoding, memory use and cost
/// (`AttncKernels/Calls/`).
public protocol Lowerable: Op {
  /// The node's kernel call; nil when this form of the op has no kernel yet (the lowering then
  /// lists the node among the unsupported ones).
  /// - Throws: an attribute that does not fit the inputs (an axis out of range).
  func lower(_ context: NodeContext) throws -> Lowering?
}

extension Graph {
  /// What `node`'s op sees of it: its inputs' facts, its outputs' types, and which outputs are
  /// read (by another node or as graph outputs).
  public func nodeContext(of node: Node) -> NodeContext {
    let outputs = node.outputs
    return NodeContext(
      inputs: inputFacts(of: node), outputs: outputs.map { values[$0].type },
      isConsumed: { k in
        guard k < outputs.count else { return false }
        let id = outputs[k]
        return self.outputs.contains(id) || self.nodes.contains { $0.inputs.contains(id) }
      })
  }
}
