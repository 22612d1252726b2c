import AttncIR
import AttncTensor

/// Options that change how a model is imported.
public struct ImportOptions: Sendable {
  /// Replaces the declared dims of named inputs (`--input-shape input_ids=1,128`): each dim is a
  /// constant or a symbol name.
  public var inputShapes: [String: [Dim]] = [:]
  /// Bool graph inputs that choose an `If`'s branch, pinned to a value (`--branch
  /// use_cache_branch=true`): the `If` is replaced by that branch (`BranchInliner`).
  public var branches: [String: Bool] = [:]

  public init(inputShapes: [String: [Dim]] = [:], branches: [String: Bool] = [:]) {
    self.inputShapes = inputShapes
    self.branches = branches
  }
}

/// Turns a decoded `OnnxModel` into the IR: checks versions, inlines local functions, decodes
/// weights (external data relative to the model's folder), resolves value names, orders nodes
/// topologically and builds each node's op definition at the model's opset.
///
/// Unknown op types import as `UnsupportedOp` nodes so the graph can still be printed.
public struct Importer {
  public var options: ImportOptions
  let externalData: ExternalDataResolver?

  /// - Parameter modelDirectory: folder external data paths are relative to (nil: refuse them).
  public init(modelDirectory: String?, options: ImportOptions = ImportOptions()) {
    self.options = options
    externalData = modelDirectory.map { ExternalDataResolver(modelDirectory: $0) }
  }

  /// Imports `model`.
  /// - Throws: `AttncError` naming the node or tensor at fault.
  public func importModel(_ model: OnnxModel) throws -> Graph {
    var graph = Graph()
    graph.info = try modelInfo(model)
    let functions = Dictionary(
      model.functions.map { ("\($0.domain)::\($0.name)", $0) }, uniquingKeysWith: { a, _ in a })
    let inlined = try BranchInliner(pinned: options.branches).inline(model.graph)
    let nodes = try FunctionInliner(functions: functions).inline(inlined.nodes)
    var names: [String: ValueID] = [:]

    // Initializers (dense and sparse) become constant values.
    for tensor in model.graph.initializers + inlined.initializers {
      let host = try withContext("initializer '\(tensor.name)'") {
        try tensor.hostTensor(externalData: externalData)
      }
      guard names[tensor.name] == nil else {
        throw AttncError.invalid("initializer '\(tensor.name)' is defined twice")
      }
      names[tensor.name] = graph.addValue(
        Value(name: tensor.name, type: TensorType(host.dtype, host.shape.map { Dim($0) }),
              constant: host))
    }
    for sparse in model.graph.sparseInitializers {
      let host = try withContext("sparse initializer '\(sparse.values.name)'") {
        try densify(sparse)
      }
      names[sparse.values.name] = graph.addValue(
        Value(name: sparse.values.name, type: TensorType(host.dtype, host.shape.map { Dim($0) }),
              constant: host))
    }

    // Graph inputs (older IR versions also list initializers here: those keep their data).
    var seenInputs = Set<String>()
    for input in model.graph.inputs {
      guard seenInputs.insert(input.name).inserted else {
        throw AttncError.invalid("graph input '\(input.name)' is declared twice")
      }
      if names[input.name] != nil { continue }
      var value = Value(name: input.name)
      try withContext("graph input '\(input.name)'") {
        switch input.type {
        case .tensor(let elementType, let shape)?:
          let dtype = try DType(onnx: elementType)
          var dims = try declaredDims(shape, valueName: input.name)
          if let override = options.inputShapes[input.name] { dims = override }
          value.type = TensorType(dtype, dims)
        case nil:
          throw AttncError.invalid("has no type")
        case let other?:
          value.nonTensorType = "\(other)"
        }
      }
      let id = graph.addValue(value)
      names[input.name] = id
      graph.inputs.append(id)
    }
    for name in options.inputShapes.keys where !graph.inputs.contains(where: { graph.values[$0].name == name }) {
      let known = graph.inputs.map { "'\(graph.values[$0].name)'" }.joined(separator: ", ")
      throw AttncError(.usage, "--input-shape names '\(name)', which is not a graph input (inputs: \(known))")
    }

    // Nodes, in topological order.
    let ordered = try TopologicalOrder.sort(nodes, available: Set(names.keys))
    var anonymous = 0
    for (index, onnxNode) in ordered.enumerated() {
      let nodeName = onnxNode.name.isEmpty ? "\(onnxNode.opType)_\(index)" : onnxNode.name
      let label = "node '\(nodeName)' (\(onnxNode.opType))"
      let node = try withContext(label) { () throws -> Node in
        let domain = onnxNode.domain == "ai.onnx" ? "" : onnxNode.domain
        guard let opset = graph.info.opsets[domain] else {
          throw AttncError.invalid("domain '\(domain)' is not imported by the model")
        }
        var inputs: [ValueID?] = []
        for name in onnxNode.inputs {
          if name.isEmpty {
            inputs.append(nil)
            continue
          }
          guard let id = names[name] else {
            throw AttncError.invalid(
              "input '\(name)' is not defined by any node, initializer or graph input")
          }
          inputs.append(id)
        }
        var outputs: [ValueID] = []
        for name in onnxNode.outputs {
          var valueName = name
          if name.isEmpty {
            anonymous += 1
            valueName = graph.freshName("\(nodeName)__unused\(anonymous)")
          } else if names[name] != nil {
            throw AttncError.invalid("output '\(name)' is already defined by another node, an initializer or a graph input")
          }
          let id = graph.addValue(Value(name: valueName))
          if !name.isEmpty { names[name] = id }
          outputs.append(id)
        }
        let attributes = try convert(onnxNode.attributes)
        let op = try OpRegistry.make(
          domain: domain, type: onnxNode.opType, attributes: attributes, opset: opset)
        return Node(
          name: nodeName, domain: domain, opType: onnxNode.opType, inputs: inputs,
          outputs: outputs, attributes: attributes, opset: opset, op: op)
      }
      graph.nodes.append(node)
    }

    var seenOutputs = Set<String>()
    for output in model.graph.outputs {
      guard seenOutputs.insert(output.name).inserted else {
        throw AttncError.invalid("graph output '\(output.name)' is declared twice")
      }
      guard let id = names[output.name] else {
        throw AttncError.invalid("graph output '\(output.name)' is not produced by any node")
      }
      graph.outputs.append(id)
    }
    if !options.branches.isEmpty {
      try guardBranches(inlined.guards, in: &graph, names: names)
      unconstrainDeclaredInputs(&graph)
    }
    return graph
  }

  /// Checks each pinned `If`'s condition first (`BranchGuard(condition)`, the first node), and
  /// passes the `If`'s first output, which keeps its name, through `BranchGuard(value, checked)`
  /// (which keeps the check alive).
  func guardBranches(_ guards: [BranchInliner.BranchGuardRequest], in graph: inout Graph, names: [String: ValueID]) throws {
    for request in guards {
      guard let value = names[request.value], let condition = names[request.condition] else { continue }
      let op = BranchGuard(expected: request.expected, condition: request.condition, node: request.node)
      let checked = graph.addValue(Value(name: graph.freshName("\(request.condition)/checked")))
      graph.nodes.insert(Node(name: "\(request.node)/check", op: op, inputs: [condition], outputs: [checked]), at: 0)
      let producers = graph.producers()
      let name = graph.values[value].name
      graph.values[value].name = graph.freshName("\(name)/unguarded")
      let guarded = graph.addValue(Value(name: name))
      graph.replaceUses(of: value, with: guarded)
      let node = Node(name: "\(request.node)/guard", op: op, inputs: [value, checked], outputs: [guarded])
      graph.nodes.insert(node, at: producers[value].map { $0 + 1 } ?? graph.nodes.count)
    }
  }

  /// Gives symbolic dims of graph inputs symbols of their own (`<input>_dim<axis>`) where a
  /// merged file's declarations do not hold for the branch taken: every dim of an input no node
  /// reads (callers feed the untaken branch's inputs placeholders, such as the zero-length past
  /// Optimum passes on the first step, whose length symbol the encoder's inputs bind otherwise),
  /// and the token axes (past axis 0) of integer inputs, the ids, masks and positions (a merged
  /// file declares its inputs once, as the decoder without past has them, so `attention_mask` is
  /// `[batch_size, sequence_length]` where the with-past branch reads past + new tokens' worth).
  /// The lengths then follow from the branch's nodes; float inputs (the past keys and values, the
  /// encoder's states) keep the symbols they share.
  func unconstrainDeclaredInputs(_ graph: inout Graph) {
    var read = Set(graph.outputs)
    for node in graph.nodes { for case let input? in node.inputs { read.insert(input) } }
    for id in graph.inputs {
      guard let type = graph.values[id].type else { continue }
      let name = graph.values[id].name
      let tokenAxes = !type.dtype.isFloatingPoint && type.dtype != .bool
      let dims = type.dims.enumerated().map { axis, dim in
        dim.value == nil && (!read.contains(id) || (tokenAxes && axis > 0)) ? Dim.symbol("\(name)_dim\(axis)") : dim
      }
      graph.values[id].type = TensorType(type.dtype, dims)
    }
  }

  // MARK: - Pieces

  func modelInfo(_ model: OnnxModel) throws -> ModelInfo {
    var info = ModelInfo()
    info.irVersion = Int(model.irVersion)
    guard info.irVersion <= OpRegistry.newestIRVersion else {
      throw AttncError.unsupported(
        "IR version \(model.irVersion) is newer than the newest supported, \(OpRegistry.newestIRVersion)")
    }
    for opset in model.opsetImports {
      let domain = opset.domain == "ai.onnx" ? "" : opset.domain
      let shown = domain.isEmpty ? "ai.onnx" : domain
      if let newest = OpRegistry.newestOpset[domain], opset.version > Int64(newest) {
        throw AttncError.unsupported(
          "opset \(opset.version) of domain '\(shown)' is newer than the newest supported, \(newest)")
      }
      info.opsets[domain] = Int(opset.version)
    }
    if info.opsets.isEmpty && info.irVersion < 3 {
      info.opsets[""] = 1
    }
    info.producerName = model.producerName
    info.producerVersion = model.producerVersion
    info.domain = model.domain
    info.modelVersion = Int(model.modelVersion)
    info.graphName = model.graph.name
    info.docString = model.docString
    for entry in model.metadata { info.metadata[entry.key] = entry.value }
    return info
  }

  /// Dims of a declared input: constants, `dim_param` symbols, and a fresh per-input symbol for
  /// dims declared with neither.
  func declaredDims(_ shape: [OnnxDim]?, valueName: String) throws -> [Dim] {
    guard let shape else {
      throw AttncError.invalid("has no shape (rank unknown); give one with --input-shape \(valueName)=d0,d1,...")
    }
    return try shape.enumerated().map { index, dim in
      switch dim {
      case .value(let v):
        guard v >= 0 else { throw AttncError.invalid("dim \(index) is negative (\(v))") }
        return Dim(Int(v))
      case .param(let name): return .symbol(name)
      case .unknown: return .symbol("\(valueName)_dim\(index)")
      }
    }
  }

  func convert(_ attributes: [OnnxAttribute]) throws -> Attributes {
    var result = Attributes()
    for attribute in attributes {
      let value: AttributeValue = try withContext("attribute '\(attribute.name)'") {
        switch attribute.kind {
        case .float: return .float(attribute.f)
        case .int: return .int(attribute.i)
        case .string: return .string(String(decoding: attribute.s, as: UTF8.self))
        case .floats: return .floats(attribute.floats)
        case .ints: return .ints(attribute.ints)
        case .strings: return .strings(attribute.strings.map { String(decoding: $0, as: UTF8.self) })
        case .tensor:
          guard let tensor = attribute.t else { throw AttncError.invalid("tensor attribute has no tensor") }
          return .tensor(try tensor.hostTensor(externalData: externalData))
        case .tensors:
          return .tensors(try attribute.tensors.map { try $0.hostTensor(externalData: externalData) })
        case .graph: return .graph(attribute.g?.name ?? "")
        case .graphs: return .other("graphs")
        case .sparseTensor:
          guard let sparse = attribute.sparseTensor else { return .other("sparse tensor") }
          return .tensor(try densify(sparse))
        case .sparseTensors: return .other("sparse tensors")
        case .typeProto, .typeProtos: return .other("type")
        case .undefined:
          throw AttncError.invalid("has an undefined type")
        }
      }
      result[attribute.name] = value
    }
    return result
  }

  /// A dense tensor from COO values and indices (flat [nnz] or [nnz, rank]).
  func densify(_ sparse: OnnxSparseTensor) throws -> HostTensor {
    let values = try sparse.values.hostTensor(externalData: externalData)
    let indices = try sparse.indices.hostTensor(externalData: externalData)
    let shape = sparse.dims.map { Int($0) }
    let count = try HostTensor.elementCount(shape)
    let nnz = values.count
    let flat = indices.int64s()
    var dense = [Double](repeating: 0, count: count)
    let source = values.doubles()
    for k in 0..<nnz {
      var position = 0
      if indices.rank == 1 {
        guard k < flat.count else { throw AttncError.invalid("sparse indices are shorter than its values") }
        position = Int(flat[k])
      } else {
        guard (k + 1) * shape.count <= flat.count else { throw AttncError.invalid("sparse indices are shorter than its values") }
        for axis in 0..<shape.count { position = position * shape[axis] + Int(flat[k * shape.count + axis]) }
      }
      guard position >= 0 && position < count else { throw AttncError.invalid("sparse index \(position) is out of range for dims \(shape)") }
      dense[position] = source[k]
    }
    return HostTensor(dtype: values.dtype, shape: shape, converting: dense)
  }
}
