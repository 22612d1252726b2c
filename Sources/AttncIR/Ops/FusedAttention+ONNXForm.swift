import AttncKernels
import AttncTensor

/// The standard ONNX form of one attention:
///
/// - exact (`softmax`), opset < 23: `MatMul(scale·Q, Kᵀ)`, softcap, mask, causal cut,
///   `Softmax(-1)`, `MatMul(·, V)` — the plain form exporters write;
/// - exact, opset ≥ 23: the standard `Attention` op (4-D Q, K, V; GQA native; a float mask for
///   padding, weights, bias and a causal cut that is not top-left aligned);
/// - a variant: a call of an `ai.attnc` local function whose body is the variant's
///   `onnxForm` (standard ops only; its random features as initializers, the plan's draws).
///
/// Masks follow `AttentionSpec.Mask`: key padding adds `maskFill` where the mask is 0; key
/// weights add `log w`; a bias is added; the causal cut adds `causalFill` to keys past
/// `i + L − S`. A row the model guards with `Where(IsNaN(p), 0, p)` gives zeros.
extension FusedAttention: ONNXExpressible {
  /// The domain of the variants' local functions.
  public static let functionDomain = "ai.attnc"

  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    let definition = try AttentionVariants.named(spec.variant.name)
    let substitutes = try spec.dispatch != nil || !definition.isExact(definition.resolve(spec.variant.parameters))
    guard substitutes else {
      return try substitutedForm(node, into: &b)
    }
    var exact = self
    (exact.spec.variant, exact.spec.dispatch) = (.softmax, nil)
    switch decodingStep(node) {
    case false?: try substitutedForm(node, into: &b)
    case true?: try exact.substitutedForm(node, into: &b)
    case nil:
      // As the plan decides per call: a step of at most `decodeRows` queries on more keys is exact.
      let queries = b.scalarDimension(of: try node.input(0), axis: 2), keys = b.scalarDimension(of: try node.input(1), axis: 2)
      let step = b.op("And", b.op("LessOrEqual", queries, b.int(TiledAttention.decodeRows, "decode_rows")), b.op("Less", queries, keys))
      func branch(_ form: FusedAttention, _ base: String, _ b: inout ONNXGraphBuilder) throws -> ONNXSubgraph {
        try b.subgraph(base) { builder, output in
          var inner = node
          inner.outputs = [output]
          try form.substitutedForm(inner, into: &builder)
        }
      }
      let then = try branch(exact, "decoding_step", &b), otherwise = try branch(self, "substituted", &b)
      b.add("If", [step], [("then_branch", .graph(then)), ("else_branch", .graph(otherwise))], outputs: node.outputs)
    }
  }

  /// Whether attnc's plan runs this attention exact as a decoding step (at most
  /// `TiledAttention.decodeRows` queries on more keys, `FusedAttentionCall.variant(forKeys:queries:)`):
  /// known from the dims, or nil when it depends on the call.
  private func decodingStep(_ node: ONNXFormNode) -> Bool? {
    guard let queries = node.inputFacts[0]?.dims[2], let keys = node.inputFacts[1]?.dims[2] else { return nil }
    if queries == keys { return false }
    if let s = queries.value, s > TiledAttention.decodeRows { return false }
    if let s = queries.value, let l = keys.value { return s < l }
    return nil
  }

  /// The form of the layer's variant (or table), exact included.
  private func substitutedForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    if let dispatch = spec.dispatch { return try dispatched(dispatch, &b, node) }
    let (q, k, v) = (try node.input(0), try node.input(1), try node.input(2))
    let mask = spec.mask == .none ? nil : try node.input(3)
    let definition = try AttentionVariants.named(spec.variant.name)
    let parameters = try definition.resolve(spec.variant.parameters)
    guard !definition.isExact(parameters) else {
      let y = b.opset >= 23 ? try standardAttention(&b, q, k, v, mask, node) : plainAttention(&b, q, k, v, mask, node)
      _ = spec.zeroNaNRows ? b.op("Where", b.op("IsNaN", y), b.scalar(0, "zero"), y, output: node.outputs[0]) : b.op("Identity", y, output: node.outputs[0])
      return
    }
    guard let form = definition.onnxForm else {
      throw AttncError.unsupported("\(spec.variant) has no standard ONNX form: \(definition.onnxRefusal)")
    }
    try variantCall(&b, form, parameters, q, k, v, mask, node)
  }

  // MARK: - Per-length tables

  /// `--seq-len auto`'s table as nested `If`s on the key length: entry `i` runs while
  /// `L < entries[i + 1].minimumKeys`, each branch the entry's variant in its own form.
  private func dispatched(_ dispatch: AttentionDispatch, _ b: inout ONNXGraphBuilder, _ node: ONNXFormNode) throws {
    let keys = b.scalarDimension(of: try node.input(1), axis: 2)
    func run(_ entry: Int, _ b: inout ONNXGraphBuilder, into output: String) throws {
      var fixed = self
      let (definition, parameters) = try AttentionVariants.parse(dispatch.entries[entry].variant)
      fixed.spec.variant = AttentionVariant(name: definition.name, parameters: parameters.values)
      fixed.spec.dispatch = nil
      var branch = node
      branch.outputs = [output]
      try fixed.substitutedForm(branch, into: &b)
    }
    func select(from entry: Int, _ b: inout ONNXGraphBuilder, into output: String) throws {
      guard entry + 1 < dispatch.entries.count else { return try run(entry, &b, into: output) }
      let shorter = b.op("Less", keys, b.int(dispatch.entries[entry + 1].minimumKeys, "keys_bound"))
      let then = try b.subgraph("below_\(dispatch.entries[entry + 1].minimumKeys)") { try run(entry, &$0, into: $1) }
      let otherwise = try b.subgraph("from_\(dispatch.entries[entry + 1].minimumKeys)") { try select(from: entry + 1, &$0, into: $1) }
      b.add("If", [shorter], [("then_branch", .graph(then)), ("else_branch", .graph(otherwise))], outputs: [output])
    }
    try select(from: 0, &b, into: node.outputs[0])
  }

  // MARK: - Exact

  private func plainAttention(_ b: inout ONNXGraphBuilder, _ q: String, _ k: String, _ v: String, _ mask: String?, _ node: ONNXFormNode) -> String {
    let keys = repeatedToQueryHeads(&b, k, depth: spec.headDim), values = repeatedToQueryHeads(&b, v, depth: spec.valueDim)
    var scores = b.op("MatMul", b.op("Mul", q, b.scalar(spec.scale, "scale")), b.transpose(keys, [0, 1, 3, 2]))
    if spec.softcap > 0 {
      let cap = b.scalar(spec.softcap, "softcap")
      scores = b.op("Mul", b.op("Tanh", b.op("Div", scores, cap)), cap)
    }
    if let additive = causalAndMask(&b, q, k, mask) { scores = b.op("Add", scores, additive) }
    let probabilities = b.op("Softmax", scores, attributes: [("axis", .int(-1))])
    return b.op("MatMul", probabilities, values)
  }

  /// The `Attention` op (opset 23): `is_causal` when the queries are the keys (its cut is
  /// top-left aligned, attnc's bottom-right: the same when `S = L`), else an explicit cut.
  private func standardAttention(
    _ b: inout ONNXGraphBuilder, _ q: String, _ k: String, _ v: String, _ mask: String?, _ node: ONNXFormNode
  ) throws -> String {
    let sameLength = node.inputFacts[0]?.dims[2] == node.inputFacts[1]?.dims[2]
    // is_causal cuts with −∞; a finite causal fill beside key padding keeps the model's rows that
    // see only padding (`causalAndMask`), so it is written as a mask.
    let cutByOp = spec.causal && sameLength && !([.keyPadding, .bias].contains(spec.mask) && spec.causalFill.isFinite)
    var additive = cutByOp ? additiveMask(&b, mask) : causalAndMask(&b, q, k, mask)
    if let mask = additive {
      // ONNX Runtime wants the mask's query axis spelled out (no broadcasting over S).
      let rows = b.add("Concat", [b.ints([1, 1], "ones"), b.dimension(of: q, axis: 2), b.ints([1], "one")], [("axis", .int(0))])[0]
      additive = b.op("Expand", mask, rows)
    }
    var attributes: [(name: String, value: ONNXAttribute)] = [("scale", .float(spec.scale))]
    if cutByOp { attributes.append(("is_causal", .int(1))) }
    if spec.softcap > 0 { attributes.append(("softcap", .float(spec.softcap))) }
    return b.add("Attention", [q, k, v] + (additive.map { [$0] } ?? []), attributes)[0]
  }

  /// The float mask added to the scores (`[B, 1, 1, L]` for padding and weights), nil for none.
  private func additiveMask(_ b: inout ONNXGraphBuilder, _ mask: String?) -> String? {
    guard let mask else { return nil }
    switch spec.mask {
    case .none: return nil
    case .bias: return mask
    case .keyPadding:
      let masked = b.op("Equal", b.op("Cast", mask, attributes: [("to", .int(Int64(DType.float.rawValue)))]), b.scalar(0, "zero"))
      return b.unsqueeze(b.op("Where", masked, b.scalar(spec.maskFill, "mask_fill"), b.scalar(0, "zero")), axes: [1, 2])
    case .keyWeights:
      return b.unsqueeze(b.op("Log", mask), axes: [1, 2])
    }
  }

  /// The mask and the causal cut added to the scores, nil for neither. The cut is `[S, L]`: 0
  /// where key `j ≤ i + L − S`, `causalFill` elsewhere; with key padding a key past the cut gets
  /// `causalFill` alone, as the exporters' combined masks give it (so a row that sees only
  /// padding is, with finite fills, the model's softmax over every key, as the kernel's
  /// `recomputeFullyMaskedRows`), other masks add to the cut.
  private func causalAndMask(_ b: inout ONNXGraphBuilder, _ q: String, _ k: String, _ mask: String?) -> String? {
    let additive = additiveMask(&b, mask)
    guard spec.causal else { return additive }
    // A bias with a finite fill holds the model's own values past the cut (its causal part).
    if spec.mask == .bias && spec.causalFill.isFinite, let additive { return additive }
    let queries = b.scalarDimension(of: q, axis: 2), keys = b.scalarDimension(of: k, axis: 2)
    let (zero, one) = (b.int(0, "zero"), b.int(1, "one"))
    let rows = b.unsqueeze(b.op("Add", b.op("Range", zero, queries, one), b.op("Sub", keys, queries)), axes: [1])
    let columns = b.unsqueeze(b.op("Range", zero, keys, one), axes: [0])
    let visible = b.op("LessOrEqual", columns, rows)
    let fill = b.scalar(spec.causalFill, "causal_fill")
    if spec.mask == .keyPadding, let additive { return b.op("Where", visible, additive, fill) }
    let cut = b.op("Where", visible, b.scalar(0, "zero"), fill)
    return additive.map { b.op("Add", $0, cut) } ?? cut
  }

  /// `x [B, Hkv, L, w]` repeated to `[B, Hq, L, w]` (each KV head `Hq/Hkv` times in a row).
  private func repeatedToQueryHeads(_ b: inout ONNXGraphBuilder, _ x: String, depth: Int) -> String {
    let group = spec.qHeads / spec.kvHeads
    guard group > 1 else { return x }
    let grouped = b.op("Expand", b.unsqueeze(x, axes: [2]), b.ints([1, 1, group, 1, 1], "group"))
    return b.reshape(grouped, [0, spec.qHeads, -1, depth])
  }

  // MARK: - Variants

  /// A call of the variant's local function `ai.attnc::<variant>_<n>` with Q, K and V (repeated
  /// to the query heads), the per-key weights when there is a mask, and the constants its body
  /// captured (random features) as initializers.
  private func variantCall(
    _ b: inout ONNXGraphBuilder, _ form: AttentionFormBuilder, _ parameters: VariantParameters, _ q: String, _ k: String, _ v: String,
    _ mask: String?, _ node: ONNXFormNode
  ) throws {
    if spec.mask == .bias { throw AttncError.unsupported("\(spec.variant) cannot honour an additive mask") }
    if spec.causal, node.inputFacts[0]?.dims[2] != node.inputFacts[1]?.dims[2] {
      throw AttncError.unsupported("\(spec.variant) on causal attention over a cache (queries ≠ keys) has no ONNX form")
    }
    var body = ONNXGraphBuilder(opset: b.opset, prefix: "f", isFunctionBody: true)
    for name in ["Q", "K", "V", "W"] { body.reserve(name) }
    let operands = AttentionFormOperands(
      q: "Q", k: "K", v: "V", weights: mask == nil ? nil : "W", heads: spec.qHeads, depth: spec.headDim, valueDepth: spec.valueDim,
      scale: spec.scale, causal: spec.causal)
    let result = try form(&body, operands, parameters)
    let y = body.op("Identity", result, output: "Y")
    var arguments = [q, repeatedToQueryHeads(&b, k, depth: spec.headDim), repeatedToQueryHeads(&b, v, depth: spec.valueDim)]
    var inputs = ["Q", "K", "V"]
    if let weights = keyWeights(&b, mask) {
      arguments.append(weights)
      inputs.append("W")
    }
    b.call(
      body, named: spec.variant.name, domain: Self.functionDomain, inputs: inputs, arguments: arguments, results: [y],
      outputs: node.outputs,
      docString: "attnc attention variant \(spec.variant) (\(spec.maskDescription), \(spec.qHeads) heads of \(spec.headDim))")
  }

  /// `[B, 1, L, 1]` float weights: key padding as 0/1, key weights as given; nil without a mask.
  private func keyWeights(_ b: inout ONNXGraphBuilder, _ mask: String?) -> String? {
    guard let mask else { return nil }
    let toFloat: [(name: String, value: ONNXAttribute)] = [("to", .int(Int64(DType.float.rawValue)))]
    let weights = spec.mask == .keyWeights ? mask : b.op("Cast", b.op("Not", b.op("Equal", b.op("Cast", mask, attributes: toFloat), b.scalar(0, "zero"))), attributes: toFloat)
    return b.unsqueeze(weights, axes: [1, 3])
  }
}
