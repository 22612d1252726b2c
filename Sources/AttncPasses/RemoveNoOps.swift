import AttncIR
import AttncTensor

/// `remove-no-ops`: bypasses nodes that return their input unchanged at inference time:
/// `Identity`, `Dropout` (mask unused, not training), `Cast`/`CastLike` to the same dtype,
/// `Reshape`/`Expand`/`Squeeze`/`Unsqueeze` whose output type equals the input type, and a
/// `Reshape` of a `Reshape` whose output type equals the first one's input type (the pair is
/// bypassed: element order never changes).
///
/// Graph output names are preserved: when the bypassed output is a graph output, the input value
/// takes over its name (or, if the input is itself a graph input, output or constant, the node
/// stays).
public enum RemoveNoOps {
  public static let pass = Pass("remove-no-ops") { graph in run(&graph) }

  static func run(_ graph: inout Graph) -> Int {
    let consumers = graph.consumers()
    let producers = graph.producers()
    var removed = Set<Int>()
    for index in graph.nodes.indices {
      // Read the node afresh: earlier bypasses in this loop rewire later nodes' inputs.
      let node = graph.nodes[index]
      guard let outputID = node.outputs.first else { continue }
      let inputID: ValueID
      if isNoOp(node, graph: graph, consumers: consumers), let input = node.inputs.first ?? nil {
        inputID = input
      } else if let original = undoneReshape(node, graph: graph, producers: producers) {
        inputID = original
      } else {
        continue
      }
      if graph.outputs.contains(outputID) {
        let inputIsFixed =
          graph.inputs.contains(inputID) || graph.outputs.contains(inputID)
          || graph.values[inputID].constant != nil
        if inputIsFixed { continue }
        let outputName = graph.values[outputID].name
        graph.values[outputID].name = graph.freshName(outputName + "__bypassed")
        graph.values[inputID].name = outputName
      }
      graph.replaceUses(of: outputID, with: inputID)
      removed.insert(index)
    }
    graph.nodes = graph.nodes.enumerated().filter { !removed.contains($0.offset) }.map(\.element)
    return removed.count
  }

  /// For a `Reshape` whose input comes from another `Reshape` and whose output has that one's
  /// input type: the first one's input.
  static func undoneReshape(_ node: Node, graph: Graph, producers: [ValueID: Int]) -> ValueID? {
    guard node.domain.isEmpty, node.op is Reshape, let middle = node.inputs.first ?? nil,
      let outputID = node.outputs.first, let output = graph.values[outputID].type,
      let first = producers[middle].map({ graph.nodes[$0] }), first.domain.isEmpty, first.op is Reshape,
      let original = first.inputs.first ?? nil, graph.values[original].type == output
    else { return nil }
    return original
  }

  /// Whether the node's op says it is a no-op here (`Bypassable`); only standard-domain ops on
  /// tensor values are bypassed.
  static func isNoOp(_ node: Node, graph: Graph, consumers: [ValueID: [Int]]) -> Bool {
    guard node.domain.isEmpty, let op = node.op as? any Bypassable, let inputID = node.inputs.first ?? nil,
      graph.values[inputID].nonTensorType == nil, graph.values[inputID].type != nil
    else { return false }
    let outputs = node.outputs
    let context = NodeContext(
      inputs: graph.inputFacts(of: node), outputs: outputs.map { graph.values[$0].type },
      isConsumed: { k in k < outputs.count && (consumers[outputs[k]] != nil || graph.outputs.contains(outputs[k])) })
    return op.isNoOp(context)
  }

}
