import AttncIR
import AttncTensor

/// `fuse-normalizations`: LayerNorm and RMSNorm as exporters spell them out, each replaced by one
/// `LayerNormalization` / `RMSNormalization` node (the norm kernel) over the trailing axes that
/// the `ReduceMean`s reduce.
///
/// ```
/// layer-norm:  d = x − ReduceMean(x);  y = d / √(ReduceMean(d²) + ε) · γ + β
/// rms-norm:    y = x · 1/√(ReduceMean(x²) + ε) · γ
/// ```
/// Spellings matched: `d²` as `Pow(d, 2)` or `d·d`; `/√v` as `Div`, or `Mul` by `Reciprocal(√v)`
/// or `Div(1, √v)`;
/// ε on either side of its `Add`; `x` optionally through a `Cast` (Llama's and T5's float32
/// upcast), the normalised value optionally through a `Cast` back; γ and β optional, on either
/// side. The result must have `x`'s type (the casts go to float32 and back), γ and β must
/// broadcast to the normalised dims (leading 1s of a constant are dropped). Without γ the scale
/// is ones.
public enum FuseNormalizations {
  static let x = Capture("x"), mean = Capture("mean"), variance = Capture("variance")
  static let epsilon = Capture("epsilon"), scale = Capture("scale"), bias = Capture("bias")

  public static let pass = Rule.pass("fuse-normalizations", [layerNorm, rmsNorm])

  /// `ReduceMean` of `input` over trailing axes, keeping dims.
  static func meanOf(_ input: Pattern, _ capture: Capture) -> Pattern {
    op("ReduceMean", input, capture: capture, where: trailingMean)
  }

  /// `input²`, as `Pow(input, 2)` or `input·input`.
  static func square(_ input: Pattern) -> Pattern {
    op("Pow", input, scalar(nil, 2)) | op("Mul", input, input)
  }

  /// `input / √(v + ε)`, as a `Div`, or a `Mul` by `Reciprocal(√…)` or `1 / √…` (the legacy
  /// exporter's `rsqrt`), optionally cast.
  static func normalized(_ input: Pattern, _ v: Pattern) -> Pattern {
    let root = op("Sqrt", commutative("Add", v, scalar(epsilon)))
    let inverse = op("Reciprocal", root) | op("Div", scalar(nil, 1), root)
    return (op("Div", input, root) | commutative("Mul", input, inverse)).optionally("Cast")
  }

  /// `n·γ + β`, `n·γ` or `n`.
  static func affine(_ n: Pattern, bias withBias: Bool) -> Pattern {
    let scaled = commutative("Mul", n, any(scale))
    return withBias ? commutative("Add", scaled, any(bias)) | scaled | n : scaled | n
  }

  static let input = any(x).optionally("Cast")

  static let layerNorm: Rule = {
    let centered = op("Sub", input, meanOf(input, mean))
    let pattern = affine(normalized(centered, meanOf(square(centered), variance)), bias: true)
    return Rule("fuse-layer-norm", pattern) { match, root, graph in
      try replacement("LayerNormalization", opset: 17, match, root, &graph)
    }
  }()

  static let rmsNorm: Rule = {
    let pattern = affine(normalized(input, meanOf(square(input), mean)), bias: false)
    return Rule("fuse-rms-norm", pattern) { match, root, graph in
      try replacement("RMSNormalization", opset: 23, match, root, &graph)
    }
  }()

  /// Declines a `ReduceMean` that is not over trailing axes with `keepdims = 1`.
  @Sendable static func trailingMean(_ node: Node, _ graph: Graph) -> String? {
    guard trailingAxes(node, graph) != nil else { return "not a mean over trailing axes keeping them" }
    return nil
  }

  /// How many trailing axes a `ReduceMean` node reduces (keeping them), or nil.
  static func trailingAxes(_ node: Node, _ graph: Graph) -> Int? {
    guard let reduce = node.op as? Reduce, reduce.function == .mean, reduce.keepDims,
      let input = node.inputs.first ?? nil, let rank = graph.values[input].type?.rank,
      let axes = try? reduce.axes(rank: rank, graph.inputFacts(of: node)), !axes.isEmpty,
      axes == Array((rank - axes.count)..<rank)
    else { return nil }
    return axes.count
  }

  /// The norm node replacing `root`, or nil when a type or shape check fails.
  static func replacement(_ type: String, opset: Int, _ match: PatternMatch, _ root: ValueID, _ graph: inout Graph) throws -> [Node]? {
    guard let xValue = match[x], let xType = graph.values[xValue].type, xType.dtype.isFloatingPoint,
      let rootType = graph.values[root].type, rootType == xType,
      let eps = match.scalars[epsilon], eps >= 0, let meanNode = match.producers[mean],
      let count = trailingAxes(graph.nodes[meanNode], graph)
    else { return nil }
    if let varianceNode = match.producers[variance], trailingAxes(graph.nodes[varianceNode], graph) != count {
      return nil
    }
    let axis = xType.rank - count
    let normalizedDims = Array(xType.dims[axis...])
    var inputs: [ValueID?] = [xValue]
    if let gamma = match[scale] {
      guard let operand = normOperand(gamma, normalizedDims, xType.dtype, &graph) else { return nil }
      inputs.append(operand)
    } else {
      guard let ones = onesConstant(normalizedDims, xType.dtype, &graph) else { return nil }
      inputs.append(ones)
    }
    if let beta = match[bias] {
      guard let operand = normOperand(beta, normalizedDims, xType.dtype, &graph) else { return nil }
      inputs.append(operand)
    }
    let rootNode = graph.nodes[match.nodes[0]]
    let attributes = Attributes(["axis": .int(Int64(axis)), "epsilon": .float(eps)])
    return [try graph.makeNode(
      type, inputs, attributes: attributes, opset: max(rootNode.opset, opset), type: rootType,
      name: rootNode.name + "/" + (type == "RMSNormalization" ? "rms_norm" : "layer_norm"))]
  }

  /// `value` as a norm's scale or bias: of `dtype`, broadcasting one way to `dims`. A constant
  /// with more leading 1s than that is reshaped; anything else that does not fit declines.
  static func normOperand(_ value: ValueID, _ dims: [Dim], _ dtype: DType, _ graph: inout Graph) -> ValueID? {
    guard let type = graph.values[value].type, type.dtype == dtype else { return nil }
    var operandDims = type.dims
    while operandDims.count > dims.count, operandDims.first == Dim(1) { operandDims.removeFirst() }
    guard operandDims.count <= dims.count,
      zip(operandDims.reversed(), dims.reversed()).allSatisfy({ $0 == $1 || $0 == Dim(1) })
    else { return nil }
    if operandDims.count == type.rank { return value }
    let shape = operandDims.compactMap(\.value)
    guard let constant = graph.values[value].constant, shape.count == operandDims.count,
      let reshaped = try? HostTensor(dtype: constant.dtype, shape: shape, storage: constant.storage)
    else { return nil }
    return graph.addConstant(reshaped, name: graph.values[value].name + "__norm")
  }

  /// A constant of ones with static `dims`, or nil when a dim is symbolic.
  static func onesConstant(_ dims: [Dim], _ dtype: DType, _ graph: inout Graph) -> ValueID? {
    let shape = dims.compactMap(\.value)
    guard shape.count == dims.count else { return nil }
    let count = shape.reduce(1, *)
    let ones = HostTensor(dtype: dtype, shape: shape, converting: [Double](repeating: 1, count: count))
    return graph.addConstant(ones, name: "norm_ones")
  }
}
