import AttncIR
import AttncTensor

/// `eliminate-dead-nodes`: removes nodes none of whose outputs reaches a graph output.
public enum EliminateDeadNodes {
  public static let pass = Pass("eliminate-dead-nodes") { graph in run(&graph) }

  static func run(_ graph: inout Graph) -> Int {
    var live = Set(graph.outputs)
    var keep = [Bool](repeating: false, count: graph.nodes.count)
    for index in graph.nodes.indices.reversed() {
      let node = graph.nodes[index]
      guard node.outputs.contains(where: live.contains) else { continue }
      keep[index] = true
      for case let input? in node.inputs { live.insert(input) }
    }
    let before = graph.nodes.count
    graph.nodes = graph.nodes.indices.filter { keep[$0] }.map { graph.nodes[$0] }
    return before - graph.nodes.count
  }
}
