import AttncIR
import AttncTensor

/// `lower-gemm`: rewrites `Gemm(A, B, C)` as `MatMul(Aᵀ if transA, Bᵀ if transB) · alpha +
/// C · beta` (a factor of 1 is left out), so linear layers have one form (`MatMul` then bias
/// `Add`) for the matcher and for epilogue fusion. Constant transposes and scalings of weights
/// are done by constant folding. `alpha`/`beta` other than 1 need a floating-point A of known type.
public enum LowerGemm {
  public static let pass = Pass("lower-gemm") { graph in try run(&graph) }

  static func run(_ graph: inout Graph) throws -> Int {
    try graph.rewriteNodes { node, graph in
      node.domain.isEmpty && node.opType == "Gemm" ? try lower(node, in: &graph) : nil
    }
  }

  static func lower(_ node: Node, in graph: inout Graph) throws -> [Node]? {
    let attributes = node.attributes
    guard let alpha = try? attributes.float("alpha", default: 1),
      let beta = try? attributes.float("beta", default: 1),
      let transA = try? attributes.int("transA", default: 0),
      let transB = try? attributes.int("transB", default: 0),
      node.inputs.count >= 2, let a = node.inputs[0], let b = node.inputs[1],
      let output = node.outputs.first
    else { return nil }
    let bias = node.inputs.count > 2 ? node.inputs[2] : nil
    let dtype = graph.values[a].type?.dtype
    let scales = alpha != 1 || (beta != 1 && bias != nil)
    if scales, dtype?.isFloatingPoint != true { return nil }
    var nodes: [Node] = []
    func make(_ type: String, _ attributes: Attributes = Attributes()) throws -> any Op {
      try OpRegistry.make(domain: "", type: type, attributes: attributes, opset: node.opset)
    }
    /// Appends node `<gemm>/step = opType(inputs)` writing `target`, or a new value named `name`.
    func add(_ step: String, _ opType: String, _ inputs: [ValueID], _ name: String, into target: ValueID? = nil, attributes: Attributes = Attributes()) throws -> ValueID {
      let result = target ?? graph.addValue(Value(name: graph.freshName(name)))
      nodes.append(
        Node(
          name: node.name + "/" + step, opType: opType, inputs: inputs, outputs: [result],
          attributes: attributes, opset: node.opset, op: try make(opType, attributes)))
      return result
    }
    func scalar(_ value: Float, _ name: String) -> ValueID {
      graph.addConstant(HostTensor(dtype: dtype ?? .float, shape: [], converting: [Double(value)]), name: node.name + "__" + name)
    }
    let transpose = Attributes(["perm": .ints([1, 0])])
    let left = transA != 0 ? try add("transpose_a", "Transpose", [a], graph.values[a].name + "__transposed", attributes: transpose) : a
    let right = transB != 0 ? try add("transpose_b", "Transpose", [b], graph.values[b].name + "__transposed", attributes: transpose) : b
    let scaled = alpha != 1
    let lastIsProduct = bias == nil && !scaled
    var product = try add("matmul", "MatMul", [left, right], graph.values[output].name + "__matmul", into: lastIsProduct ? output : nil)
    if scaled {
      product = try add("alpha", "Mul", [product, scalar(alpha, "alpha")], graph.values[output].name + "__alpha", into: bias == nil ? output : nil)
    }
    if var bias {
      if beta != 1 { bias = try add("beta", "Mul", [bias, scalar(beta, "beta")], graph.values[bias].name + "__beta") }
      _ = try add("bias", "Add", [product, bias], "", into: output)
    }
    return nodes
  }
}
