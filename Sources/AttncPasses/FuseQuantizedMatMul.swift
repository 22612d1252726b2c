import AttncIR
import AttncKernels
import AttncTensor

/// `fuse-quantized-matmul`: turns each dynamically quantized linear layer on a constant weight,
/// in the three forms ONNX Runtime writes, into one `QuantizedMatMul` on the weight packed for
/// attnc's int8 GEMM:
///
///     (q, s, z) = DynamicQuantizeLinear(x)
///     Mul(Cast<float>(MatMulInteger(q, W, z, w_zero)), Mul(s, w_scale))   quantize_dynamic
///     MatMulIntegerToFloat(q, W, s, w_scale, z, w_zero, bias?)             ORT's optimizer
///     DynamicQuantizeMatMul(x, W, w_scale, w_zero?, bias?)                 ORT's optimizer
///       → QuantizedMatMul(x, packed(W), w_scale, w_zero, bias?)
///
/// W is an int8 or uint8 `[k, n]` constant (uint8 is shifted by −128 with its zero point, which
/// keeps every product), its scale and zero point one value or one per column; the arithmetic
/// is the pattern's own (the same uint8 quantization of x, the exact int32 product, the same
/// float scaling), so outputs are unchanged. `fuse-matmul-epilogues` then adds the bias,
/// residual and GELU. A form it declines stays as written and runs op by op.
public enum FuseQuantizedMatMul {
  public static let pass = Pass("fuse-quantized-matmul") { graph in try run(&graph) }

  /// One layer to fuse.
  struct Match {
    /// The float input, its weight operands, and the bias (as an addend).
    var x: ValueID
    var weight: HostTensor
    var scale: HostTensor
    var zero: HostTensor?
    var bias: ValueID?
    /// The value the fused node replaces, and the node it goes after.
    var output: ValueID
    var last: Int
  }

  static func run(_ graph: inout Graph) throws -> Int {
    let m = GraphMatching(graph)
    var matches: [Match] = []
    for (index, node) in graph.nodes.enumerated() {
      if let match = self.match(index, node, graph, m) { matches.append(match) }
    }
    guard !matches.isEmpty else { return 0 }
    var edit = GraphEdit()
    for match in matches {
      let node = graph.nodes[match.last]
      let (k, n) = (match.weight.shape[0], match.weight.shape[1])
      let signed = match.weight.dtype == .int8
      let shift: Int64 = signed ? 0 : -128
      let bytes = match.weight.int64s().map { Int8(truncatingIfNeeded: $0 + shift) }
      let packed = graph.addConstant(QuantizedGemm.packedTensor(bytes, k: k, n: n), name: node.name + "__packed")
      let scales = match.scale.floats()
      let scale = graph.addConstant(HostTensor(floats: scales, shape: [scales.count]), name: node.name + "__scale")
      var zeros = match.zero.map { $0.int64s().map { $0 + shift } } ?? (signed ? [] : [shift])
      if zeros.allSatisfy({ $0 == 0 }) { zeros = [] }
      let zero: ValueID? = zeros.isEmpty
        ? nil : graph.addConstant(HostTensor(dtype: .int32, shape: [zeros.count], integers: zeros), name: node.name + "__zero")
      let fused = graph.addValue(replacing: match.output, suffix: "__quantized")
      let product = Node(
        name: node.name + "/quantized", op: QuantizedMatMul(columns: n),
        inputs: [match.x, packed, scale, zero] + (match.bias.map { [$0] } ?? []), outputs: [fused])
      edit.insert([product], after: match.last, replacing: [(match.output, fused)])
    }
    edit.apply(to: &graph)
    return edit.count
  }

  /// The layer ending at `node`, in any of the three forms.
  static func match(_ index: Int, _ node: Node, _ graph: Graph, _ m: GraphMatching) -> Match? {
    guard let output = node.outputs.first, graph.values[output].type?.dtype == .float else { return nil }
    if node.op is DynamicQuantizeMatMul {
      guard let x = node.inputs[0], let weights = weightOperands(node, graph, weight: 1, scale: 2, zero: 3) else {
        return nil
      }
      return Match(
        x: x, weight: weights.weight, scale: weights.scale, zero: weights.zero, bias: input(node, 4), output: output,
        last: index)
    }
    if node.op is MatMulIntegerToFloat {
      guard let (x, _) = quantizedInput(node, graph, m, quantized: 0, scale: 2, zero: 4),
        let weights = weightOperands(node, graph, weight: 1, scale: 3, zero: 5)
      else { return nil }
      return Match(
        x: x, weight: weights.weight, scale: weights.scale, zero: weights.zero, bias: input(node, 6), output: output,
        last: index)
    }
    // Mul(Cast(MatMulInteger(q, W, z, w_zero)), Mul(s, w_scale)), either operand order.
    guard node.domain.isEmpty, node.opType == "Mul", node.inputs.count == 2 else { return nil }
    for (castSide, scaleSide) in [(0, 1), (1, 0)] {
      guard let casted = node.inputs[castSide], let scaleProduct = node.inputs[scaleSide],
        let castIndex = m.producers[casted], let castOp = graph.nodes[castIndex].op as? Cast, castOp.to == .float,
        m.soleConsumer(casted)?.index == index, let integer = graph.nodes[castIndex].inputs.first ?? nil,
        let product = m.producer(integer), product.op is MatMulInteger, m.soleConsumer(integer)?.index == castIndex,
        let (x, quantization) = quantizedInput(product, graph, m, quantized: 0, scale: nil, zero: 2),
        let weights = weightOperands(product, graph, weight: 1, scale: nil, zero: 3),
        let scales = m.producer(scaleProduct), scales.domain.isEmpty, scales.opType == "Mul", scales.inputs.count == 2
      else { continue }
      let dynamicScale = quantization.outputs[1]
      // One operand of the scale product is the quantization's scale, the other the weight's.
      guard let weightScale = scales.inputs.first(where: { $0 != dynamicScale }) ?? nil,
        scales.inputs.contains(dynamicScale), let scale = graph.values[weightScale].constant, scale.dtype == .float,
        perColumn(scale, columns: weights.weight.shape[1])
      else { continue }
      return Match(x: x, weight: weights.weight, scale: scale, zero: weights.zero, bias: nil, output: output, last: index)
    }
    return nil
  }

  /// Input `index` of `node`, when given.
  static func input(_ node: Node, _ index: Int) -> ValueID? { index < node.inputs.count ? node.inputs[index] : nil }

  /// The float x and the `DynamicQuantizeLinear(x)` node when the quantized operand (and its
  /// scale and zero point, where the node reads them) are that node's outputs.
  static func quantizedInput(_ node: Node, _ graph: Graph, _ m: GraphMatching, quantized: Int, scale: Int?, zero: Int)
    -> (x: ValueID, node: Node)?
  {
    guard let q = input(node, quantized), let source = m.producer(q), source.op is DynamicQuantizeLinear,
      source.outputs.count == 3, source.outputs[0] == q, input(node, zero) == source.outputs[2],
      scale.map({ input(node, $0) == source.outputs[1] }) ?? true,
      let x = source.inputs.first ?? nil, graph.values[x].type?.dims.last?.value != nil
    else { return nil }
    return (x, source)
  }

  /// A constant int8 or uint8 `[k, n]` weight, its scale (one value or one per column; nil:
  /// read elsewhere) and its zero point (of the weight's type, one value or one per column).
  static func weightOperands(_ node: Node, _ graph: Graph, weight: Int, scale: Int?, zero: Int)
    -> (weight: HostTensor, scale: HostTensor, zero: HostTensor?)?
  {
    guard let w = input(node, weight), let tensor = graph.values[w].constant, tensor.rank == 2,
      tensor.dtype == .int8 || tensor.dtype == .uint8, tensor.shape[0] > 0, tensor.shape[1] > 0
    else { return nil }
    let n = tensor.shape[1]
    var zeroTensor: HostTensor?
    if let z = input(node, zero) {
      guard let constant = graph.values[z].constant, constant.dtype == tensor.dtype, perColumn(constant, columns: n) else {
        return nil
      }
      zeroTensor = constant
    }
    guard let scale else { return (tensor, HostTensor(floats: [1], shape: [1]), zeroTensor) }
    guard let s = input(node, scale), let scaleTensor = graph.values[s].constant, scaleTensor.dtype == .float,
      perColumn(scaleTensor, columns: n)
    else {
      return nil
    }
    return (tensor, scaleTensor, zeroTensor)
  }

  /// Whether `tensor` is one value or a `[n]` vector.
  static func perColumn(_ tensor: HostTensor, columns n: Int) -> Bool {
    tensor.count == 1 && tensor.rank <= 1 || tensor.rank == 1 && tensor.count == n
  }
}
