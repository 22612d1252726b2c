import AttncTensor

/// Replaces each `If` whose condition is known at conversion by the nodes of the branch it takes.
///
/// A condition is known when it is an initializer or a `Constant` node's output (one element), or
/// a graph input the caller pins (`ImportOptions.branches`, `--branch use_cache_branch=true`):
/// attnc's plans have no control flow, so a model that chooses its branch from an input (Optimum's
/// `decoder_model_merged.onnx`) converts once per branch. The taken branch's own values
/// (its node outputs and initializers) are renamed `<if node>/then_branch/<name>` (or
/// `else_branch`); names it reads from the enclosing graph keep theirs; its outputs become the
/// `If`'s through `Identity` nodes. Branches are inlined inside out, so an `If` in a taken branch
/// is resolved the same way. An `If` whose condition is computed stays, and is refused later.
struct BranchInliner {
  /// Graph inputs pinned by the caller, by name.
  let pinned: [String: Bool]

  /// What inlining made: the nodes (no resolved `If` left), the taken branches' initializers
  /// (renamed), and one guard per `If` resolved from a pinned input.
  struct Result {
    var nodes: [OnnxNode]
    var initializers: [OnnxTensor]
    var guards: [BranchGuardRequest]
  }

  /// A branch chosen by a pinned graph input: the plan must refuse a run whose input says
  /// otherwise, so the `If`'s first output passes through a check of the condition.
  struct BranchGuardRequest {
    /// The `If` node's name.
    var node: String
    /// The graph input the condition is.
    var condition: String
    var expected: Bool
    /// The `If`'s first output (the checked value).
    var value: String
  }

  /// Inlines the resolvable `If`s of `graph` (the model's main graph).
  /// - Throws: an `If` without the branch it takes, a branch with inputs, or branch outputs
  ///   that do not match the node's.
  func inline(_ graph: OnnxGraph) throws -> Result {
    var result = Result(nodes: [], initializers: [], guards: [])
    let inputs = Set(graph.inputs.map(\.name))
    for name in pinned.keys where !inputs.contains(name) {
      let known = graph.inputs.map { "'\($0.name)'" }.joined(separator: ", ")
      throw AttncError(.usage, "--branch names '\(name)', which is not a graph input (inputs: \(known))")
    }
    var constants: [String: Bool] = [:]
    for tensor in graph.initializers { if let value = try? Self.truth(tensor) { constants[tensor.name] = value } }
    try expand(graph.nodes, constants: constants, inputs: inputs, into: &result)
    let conditions = Set(result.guards.map(\.condition))
    if let unused = pinned.keys.sorted().first(where: { !conditions.contains($0) }) {
      throw AttncError(.usage, "--branch names '\(unused)', which is not the condition of an If the model takes")
    }
    return result
  }

  /// Appends `nodes` to the result with every resolvable `If` replaced by its taken branch.
  private func expand(_ nodes: [OnnxNode], constants: [String: Bool], inputs: Set<String>, into result: inout Result) throws {
    var constants = constants
    for node in nodes {
      if node.opType == "Constant", node.outputs.count == 1, let tensor = node.attributes.first(where: { $0.name == "value" })?.t,
        let value = try? Self.truth(tensor)
      {
        constants[node.outputs[0]] = value
      }
      guard node.opType == "If", node.domain.isEmpty || node.domain == "ai.onnx", let condition = node.inputs.first else {
        result.nodes.append(node)
        continue
      }
      let pinnedValue = inputs.contains(condition) ? pinned[condition] : nil
      guard let taken = pinnedValue ?? constants[condition] else {
        result.nodes.append(node)
        continue
      }
      let label = "node '\(node.name)' (If)"
      let attribute = taken ? "then_branch" : "else_branch"
      guard let branch = node.attributes.first(where: { $0.name == attribute })?.g else {
        throw AttncError.invalid("\(label): has no \(attribute) graph")
      }
      guard branch.inputs.isEmpty else {
        throw AttncError.invalid("\(label): its \(attribute) declares \(branch.inputs.count) inputs; an If's branches take none")
      }
      guard branch.outputs.count == node.outputs.count else {
        throw AttncError.invalid(
          "\(label): its \(attribute) has \(branch.outputs.count) outputs, the node \(node.outputs.count)")
      }
      let prefix = "\(node.name.isEmpty ? "If" : node.name)/\(attribute)/"
      var local = Set(branch.initializers.map(\.name))
      for inner in branch.nodes { local.formUnion(inner.outputs.filter { !$0.isEmpty }) }
      let rename = { (name: String) -> String in name.isEmpty || !local.contains(name) ? name : prefix + name }
      for tensor in branch.initializers {
        var renamed = tensor
        renamed.name = rename(tensor.name)
        result.initializers.append(renamed)
        if let value = try? Self.truth(tensor) { constants[renamed.name] = value }
      }
      let body = branch.nodes.map { inner -> OnnxNode in
        var copy = inner
        copy.name = prefix + (inner.name.isEmpty ? inner.opType : inner.name)
        copy.inputs = inner.inputs.map(rename)
        copy.outputs = inner.outputs.map(rename)
        copy.attributes = inner.attributes.map { Self.renamingFreeNames($0, rename) }
        return copy
      }
      try expand(body, constants: constants, inputs: inputs, into: &result)
      for (index, (output, target)) in zip(branch.outputs, node.outputs).enumerated() where !target.isEmpty {
        result.nodes.append(
          OnnxNode(name: "\(prefix)output_\(index)", opType: "Identity", domain: "", inputs: [rename(output.name)],
                   outputs: [target], attributes: []))
      }
      if let pinnedValue, let first = node.outputs.first, !first.isEmpty {
        result.guards.append(BranchGuardRequest(node: node.name, condition: condition, expected: pinnedValue, value: first))
      }
    }
  }

  /// `attribute` with the names its graphs read from enclosing scopes renamed (an `If` inside
  /// a taken branch reads the branch's values under their new names).
  static func renamingFreeNames(_ attribute: OnnxAttribute, _ rename: @escaping (String) -> String) -> OnnxAttribute {
    var copy = attribute
    copy.g = attribute.g.map { renamingFreeNames($0, rename) }
    copy.graphs = attribute.graphs.map { renamingFreeNames($0, rename) }
    return copy
  }

  static func renamingFreeNames(_ graph: OnnxGraph, _ rename: @escaping (String) -> String) -> OnnxGraph {
    var own = Set(graph.initializers.map(\.name) + graph.inputs.map(\.name))
    for node in graph.nodes { own.formUnion(node.outputs) }
    let outer = { (name: String) -> String in own.contains(name) ? name : rename(name) }
    var copy = graph
    copy.nodes = graph.nodes.map { node in
      var renamed = node
      renamed.inputs = node.inputs.map(outer)
      renamed.attributes = node.attributes.map { renamingFreeNames($0, outer) }
      return renamed
    }
    copy.outputs = graph.outputs.map { output in
      var renamed = output
      renamed.name = outer(output.name)
      return renamed
    }
    return copy
  }

  /// The truth of a one-element tensor (bool or numeric: nonzero is true).
  /// - Throws: when it has more or fewer elements, or cannot be read.
  static func truth(_ tensor: OnnxTensor) throws -> Bool {
    let host = try tensor.hostTensor(externalData: nil)
    guard host.count == 1 else { throw AttncError.invalid("not one element") }
    return host.doubles()[0] != 0
  }
}
