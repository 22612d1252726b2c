import AttncIR
import AttncKernels
import AttncTensor

/// `expand-matmul-nbits`: rewrites ONNX Runtime's weight-only `com.microsoft.MatMulNBits` whose
/// weight, scales, zero points and g_idx are constants into the standard ops it stands for,
/// with the weight dequantized once, at conversion:
///
///     MatMulNBits(A, B, scales, zero_points?, g_idx?, bias?) → Add(MatMul(A, W), bias)
///     W = (q − zero_point) · scale per block (BlockQuantizedWeights), float32 [K, N]
///
/// so the product runs on the packed float32 GEMM with its fused epilogue, and attention
/// matching sees an ordinary linear layer. The plan then holds W as float32: eight times the
/// 4-bit weight's bytes (weight-only quantization saves file size here, not run-time memory).
public enum ExpandMatMulNBits {
  public static let pass = Pass("expand-matmul-nbits") { graph in try run(&graph) }

  /// The standard opset the replacement nodes are built at.
  static let opset = 17

  static func run(_ graph: inout Graph) throws -> Int {
    try graph.rewriteNodes { node, graph in
      guard let op = node.op as? MatMulNBits else { return nil }
      return try withContext(node.label) { try expand(node, op, in: &graph) }
    }
  }

  static func expand(_ node: Node, _ op: MatMulNBits, in graph: inout Graph) throws -> [Node]? {
    func constant(_ index: Int) -> HostTensor?? {
      guard index < node.inputs.count, let id = node.inputs[index] else { return .some(nil) }
      return graph.values[id].constant.map { .some($0) }
    }
    guard let a = node.inputs.first ?? nil, let output = node.outputs.first,
      let b = constant(1), let b, let scales = constant(2), let scales, let zeros = constant(3), let groups = constant(4)
    else { return nil }
    let weight = try BlockQuantizedWeights.dequantize(
      Tensor(b), scales: Tensor(scales), zeroPoints: zeros.map(Tensor.init), groupIndex: groups.map(Tensor.init),
      layout: op.layout)
    let w = graph.addConstant(HostTensor(floats: weight, shape: [op.layout.k, op.layout.n]), name: node.name + "__dequantized")
    let bias = node.inputs.count > 5 ? node.inputs[5] : nil
    let product = bias == nil ? output : graph.addValue(Value(name: graph.freshName(node.name + "/product")))
    var nodes = [Node(
      name: node.name + "/product", opType: "MatMul", inputs: [a, w], outputs: [product], opset: opset,
      op: try OpRegistry.make(domain: "", type: "MatMul", attributes: Attributes(), opset: opset))]
    if let bias {
      nodes.append(Node(
        name: node.name + "/bias", opType: "Add", inputs: [product, bias], outputs: [output], opset: opset,
        op: try OpRegistry.make(domain: "", type: "Add", attributes: Attributes(), opset: opset)))
    }
    return nodes
  }
}
