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

extension Lowerable {
  /// Computes the outputs from constant inputs with the kernel call the plan would run (constant
  /// folding and mask probing): one arithmetic, so folding never disagrees with running. Float
  /// types compute in float32 as the interpreter does; integers and bool in Int64.
  /// - Throws: `.unsupported` when this form of the op has no kernel, or a dim of the call does
  ///   not resolve without bindings (then folding skips the node); the kernel's own errors.
  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let facts = inputs.map { tensor in
      tensor.map { ValueFact(type: TensorType($0.dtype, $0.shape.map { Dim($0) }), constant: $0) }
    }
    let types = try outputTypes(facts, outputCount: outputCount)
    let context = NodeContext(inputs: facts, outputs: types.map { $0 }, isConsumed: { $0 < outputCount })
    guard let lowering = try lower(context) else {
      throw AttncError.unsupported("\(type(of: self)) has no kernel for these inputs")
    }
    let arguments = Array(inputs.prefix(lowering.usedInputs ?? inputs.count).map { $0.map(Tensor.init) })
    guard lowering.call.isDeterministic(arguments) else {
      throw AttncError.unsupported("\(lowering.call.name) draws random values: not evaluated at conversion")
    }
    let written = min(outputCount, lowering.usedOutputs ?? outputCount)
    let results = try lowering.call.evaluate(KernelContext(outputCount: written), arguments)
    guard results.count >= written else {
      throw AttncError.invalid("kernel '\(lowering.call.name)' returned \(results.count) outputs, expected \(written)")
    }
    return results.prefix(written).map(\.host)
  }
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
