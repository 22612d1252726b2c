import AttncTensor

/// What an op's ONNX form sees of its node: names, facts, and the opset it was read at.
public struct ONNXFormNode {
  public var name: String
  /// Input names; nil for an omitted optional input.
  public var inputs: [String?]
  public var outputs: [String]
  /// Each input's fact (nil for an omitted optional input).
  public var inputFacts: [ValueFact?]
  public var outputTypes: [TensorType?]
  /// The node's attributes as read from the model (passed through by the default form).
  public var attributes: Attributes
  /// The opset of the node's domain it was read at.
  public var opset: Int
  /// The node's op type and domain as written.
  public var opType: String
  public var domain: String

  public init(
    name: String, inputs: [String?], outputs: [String], inputFacts: [ValueFact?], outputTypes: [TensorType?],
    attributes: Attributes, opset: Int, opType: String, domain: String
  ) {
    (self.name, self.inputs, self.outputs, self.inputFacts, self.outputTypes) = (name, inputs, outputs, inputFacts, outputTypes)
    (self.attributes, self.opset, self.opType, self.domain) = (attributes, opset, opType, domain)
  }

  /// Input `index`'s name.
  /// - Throws: when it is omitted.
  public func input(_ index: Int) throws -> String {
    guard index < inputs.count, let name = inputs[index] else { throw AttncError.invalid("input \(index) is required") }
    return name
  }

  /// The node as written: its op type, domain and attributes, inputs and outputs.
  /// - Throws: an attribute ONNX cannot hold here (a subgraph).
  public func passedThrough(name: String? = nil, attributes extra: [(name: String, value: ONNXAttribute)] = [], dropping: Set<String> = [], inputs given: [String?]? = nil) throws -> ONNXNode {
    var written: [(name: String, value: ONNXAttribute)] = []
    for key in attributes.names where !dropping.contains(key) {
      guard let value = attributes[key] else { continue }
      written.append((key, try value.onnx(key)))
    }
    written += extra
    return ONNXNode(
      name: name ?? self.name, opType: opType, domain: domain, inputs: (given ?? inputs).map { $0 ?? "" }, outputs: outputs,
      attributes: written)
  }
}

/// Ops whose standard ONNX form is not the node as read: attnc's own ops (their standard-op
/// decomposition, or the standard op of the target opset), and standard ops whose attributes
/// moved to inputs between the opset they were read at and the one written. Every other op of
/// a standard domain is written as read (`ONNXExport`).
public protocol ONNXExpressible: Op {
  /// The oldest `ai.onnx` opset the form can be written at: the exporter raises the model's
  /// opset to it (0: any).
  var minimumONNXOpset: Int { get }

  /// Writes the node's standard form into `builder`, producing `node.outputs`.
  /// - Throws: `.unsupported` with the reason when this node has no standard form.
  func onnxForm(_ node: ONNXFormNode, into builder: inout ONNXGraphBuilder) throws
}

extension ONNXExpressible {
  public var minimumONNXOpset: Int { 0 }
}

extension AttributeValue {
  /// The attribute as ONNX writes it.
  /// - Throws: `.unsupported` for subgraphs and kinds attnc keeps only by name.
  func onnx(_ name: String) throws -> ONNXAttribute {
    switch self {
    case .int(let v): return .int(v)
    case .float(let v): return .float(v)
    case .string(let v): return .string(v)
    case .tensor(let v): return .tensor(v)
    case .ints(let v): return .ints(v)
    case .floats(let v): return .floats(v)
    case .strings(let v): return .strings(v)
    case .tensors, .graph, .other:
      throw AttncError.unsupported("attribute '\(name)' (a subgraph, tensor list or type) cannot be written back")
    }
  }
}
