import AttncIR
import AttncKernels
import AttncRuntime
import AttncTensor

/// Lowers a canonicalized graph to a plan: one slot per live value, one instruction per node
/// (the call its op's `Lowerable.lower` gives), weights attached to constant slots.
///
/// Every node must have a kernel; the nodes that do not are listed together in one error
/// ("no kernel yet for: Conv (node 'patch/Conv'); Resize (nodes 'a', 'b')").
public enum Lower {
  public static func plan(
    _ graph: Graph, sourceSHA256: [UInt8], producer: String, policy: String
  ) throws -> Plan {
    var plan = Plan(sourceSHA256: sourceSHA256, producer: producer, policy: policy)
    var slotOf: [ValueID: Int] = [:]
    func slot(_ id: ValueID) throws -> Int {
      if let existing = slotOf[id] { return existing }
      let value = graph.values[id]
      guard let type = value.type else {
        throw AttncError.unsupported("value '\(value.name)' has no known type (a sequence, optional or data-dependent value)")
      }
      plan.slots.append(Plan.Slot(name: value.name, dtype: type.dtype, dims: type.dims))
      let index = plan.slots.count - 1
      slotOf[id] = index
      if let constant = value.constant { plan.constants[index] = constant }
      return index
    }
    var readers = Set(graph.outputs)
    for node in graph.nodes { readers.formUnion(node.inputs.compactMap { $0 }) }
    plan.inputs = try graph.inputs.map(slot)
    var missing: [(String, [String])] = []
    for node in graph.nodes {
      let context = NodeContext(
        inputs: graph.inputFacts(of: node), outputs: node.outputs.map { graph.values[$0].type },
        isConsumed: { k in k < node.outputs.count && readers.contains(node.outputs[k]) })
      let lowering = try withContext(node.label) { try (node.op as? any Lowerable)?.lower(context) }
      guard let lowering else {
        if let i = missing.firstIndex(where: { $0.0 == node.opType }) {
          missing[i].1.append(node.name)
        } else {
          missing.append((node.opType, [node.name]))
        }
        continue
      }
      let used = lowering.usedInputs ?? node.inputs.count
      plan.instructions.append(
        Plan.Instruction(
          call: lowering.call, inputs: try node.inputs.prefix(used).map { try $0.map(slot) },
          outputs: try node.outputs.prefix(lowering.usedOutputs ?? node.outputs.count).map(slot),
          label: node.name))
    }
    if !missing.isEmpty {
      let parts = missing.map { type, nodes in
        "\(type) (\(nodes.count == 1 ? "node" : "nodes") \(nodes.prefix(3).map { "'\($0)'" }.joined(separator: ", "))\(nodes.count > 3 ? ", …" : ""))"
      }
      throw AttncError.unsupported("no kernel yet for: \(parts.joined(separator: "; "))")
    }
    plan.outputs = try graph.outputs.map(slot)
    return plan
  }
}
