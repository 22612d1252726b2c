import AttncIR
import AttncTensor

/// `lower-gemm`: rewrites `Gemm(A, B, C)` with `alpha = beta = 1` and `transA = 0` as
/// `MatMul(A, Bᵀ if transB) + C`, so linear layers have one form (`MatMul` then bias `Add`) for
/// the matcher and for epilogue fusion. A constant `B` is transposed by constant folding.
public enum LowerGemm {
  public static let pass = Pass("lower-gemm") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    var hits = 0
    var rewritten: [Node] = []
    for node in graph.nodes {
      guard node.domain.isEmpty, node.opType == "Gemm",
        let replacement = try lower(node, in: &graph)
      else {
        rewritten.append(node)
        continue
      }
      rewritten += replacement
      hits += 1
    }
    graph.nodes = rewritten
    return hits
  }

  static func lower(_ node: Node, in graph: inout Graph) throws -> [Node]? {
    let attributes = node.attributes
    guard (try? attributes.float("alpha", default: 1)) == 1,
      (try? attributes.float("beta", default: 1)) == 1,
      (try? attributes.int("transA", default: 0)) == 0,
      let transB = try? attributes.int("transB", default: 0),
      node.inputs.count >= 2, let a = node.inputs[0], let b = node.inputs[1],
      let output = node.outputs.first
    else { return nil }
    let bias = node.inputs.count > 2 ? node.inputs[2] : nil
    var nodes: [Node] = []
    func make(_ type: String, _ attributes: Attributes = Attributes()) throws -> any Op {
      try OpRegistry.make(domain: "", type: type, attributes: attributes, opset: node.opset)
    }
    var weight = b
    if transB != 0 {
      weight = graph.addValue(Value(name: graph.freshName(graph.values[b].name + "__transposed")))
      nodes.append(
        Node(
          name: node.name + "/transpose_b", opType: "Transpose", inputs: [b], outputs: [weight],
          attributes: Attributes(["perm": .ints([1, 0])]), opset: node.opset,
          op: try make("Transpose", Attributes(["perm": .ints([1, 0])]))))
    }
    let product = bias == nil ? output : graph.addValue(Value(name: graph.freshName(graph.values[output].name + "__matmul")))
    nodes.append(
      Node(
        name: node.name + "/matmul", opType: "MatMul", inputs: [a, weight], outputs: [product],
        opset: node.opset, op: try make("MatMul")))
    if let bias {
      nodes.append(
        Node(
          name: node.name + "/bias", opType: "Add", inputs: [product, bias], outputs: [output],
          opset: node.opset, op: try make("Add")))
    }
    return nodes
  }
}
