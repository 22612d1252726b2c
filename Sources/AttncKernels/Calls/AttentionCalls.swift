import AttncTensor

/// How one attention turns `Q·Kᵀ` into weights: the scale, causality, softcap and mask, as the
/// IR's `AttentionSpec` and the plan's `FusedAttentionCall` both state them (each reads these
/// fields as its own: `spec.causal`, `call.scale`).
public struct AttentionScores: Sendable, Equatable {
  public var scale: Float
  /// Query `i` sees keys `j ≤ i + (L − S)` only (bottom-right alignment).
  public var causal: Bool
  /// `c·tanh(x/c)` of the scaled scores; 0 = none.
  public var softcap: Float
  public var mask: FusedAttentionCall.MaskKind
  /// Added to masked scores of a key-padding mask.
  public var maskFill: Float
  /// What the exported mask adds past the diagonal of a causal attention (−inf, or a finite
  /// value such as `finfo.min`). It decides only the rows whose visible keys are all padded:
  /// with −inf they are zeros (SDPA's NaN guard); with a finite value every key of the row is
  /// masked alike, so the row is the softmax over all `L` keys of `score + fill`, as the
  /// exported mask computes it.
  public var causalFill: Float = -.infinity
  /// The model guards its probabilities with `Where(IsNaN(p), 0, p)` (SDPA exports): a row with
  /// a NaN score gives zeros rather than NaN. (Fully masked rows give zeros either way.)
  public var zeroNaNRows = false

  public init(scale: Float, causal: Bool, softcap: Float, mask: FusedAttentionCall.MaskKind, maskFill: Float) {
    (self.scale, self.causal, self.softcap, self.mask, self.maskFill) = (scale, causal, softcap, mask, maskFill)
  }
}

/// attnc's fused attention on `[B, H, S, d]` heads: the exact tiled kernel, or the variant the
/// policy chose (`dispatch`: a variant per range of key lengths, picked per call).
@dynamicMemberLookup
public struct FusedAttentionCall: KernelCall {

  /// What input 3 holds (`AttentionSpec.Mask` in the IR).
  public enum MaskKind: String, Sendable {
    /// No fourth input.
    case none
    /// `[B, L]`: key `j` of batch `b` is masked where the value is 0; a masked score gets
    /// `maskFill` added (as the exporters' `(1 − mask)·fill` does).
    case keyPadding = "key_padding"
    /// Any float tensor broadcasting to `[B, Hq, S, L]`, added to the scores.
    case bias = "additive_bias"
    /// `[B, L]` float32, non-negative: proportional attention, key `j` counts `w_j` times,
    /// `Y_i = Σ_j w_j·e^{s_ij}·v_j / Σ_j w_j·e^{s_ij}` (the bias `log w_j`; 0 drops the key; a row
    /// whose visible keys all weigh 0 gives zeros). Token merging's key sizes.
    case keyWeights = "key_weights"
  }

  public var scores: AttentionScores
  /// The variant's name and its parameters (`performer`, `["m": 256]`).
  public var variant: String
  public var variantValues: [String: Double]
  /// `AttentionDispatch`'s text, when the variant depends on the key length.
  public var dispatch: String?
  /// The keys and values arrive as a KV cache and this step's part (`Concat(past, new)` along
  /// the key axis): inputs `Q, pastK, newK, pastV, newV, mask?`, outputs `Y` and the present
  /// `K`, `V` (`TiledAttention.runAppending`). Otherwise inputs `Q, K, V, mask?`, output `Y`.
  public var appendsCache = false

  public init(scores: AttentionScores, variant: String = "softmax", variantValues: [String: Double] = [:], dispatch: String? = nil) {
    self.scores = scores
    self.variant = variant
    self.variantValues = variantValues
    self.dispatch = dispatch
  }

  public init(
    scale: Float, causal: Bool, softcap: Float, mask: MaskKind, maskFill: Float, variant: String = "softmax",
    variantValues: [String: Double] = [:], dispatch: String? = nil
  ) {
    self.init(
      scores: AttentionScores(scale: scale, causal: causal, softcap: softcap, mask: mask, maskFill: maskFill),
      variant: variant, variantValues: variantValues, dispatch: dispatch)
  }

  /// The scores' fields, read and written as the call's own (`call.scale`).
  public subscript<Value>(dynamicMember field: WritableKeyPath<AttentionScores, Value>) -> Value {
    get { scores[keyPath: field] }
    set { scores[keyPath: field] = newValue }
  }

  public init(name: String, parameters p: KernelParameters) throws {
    let kind = try p.string("mask", default: "none")
    guard let mask = MaskKind(rawValue: kind) else { throw AttncError.invalid("unknown attention mask kind '\(kind)'") }
    var values: [String: Double] = [:]
    for (key, value) in p.values where key.hasPrefix(AttentionVariants.variantPrefix) {
      guard case .float(let number) = value else { throw AttncError.invalid("kernel parameter '\(key)' is not a number") }
      values[String(key.dropFirst(AttentionVariants.variantPrefix.count))] = number
    }
    self.init(
      scale: try p.float("scale"), causal: try p.int("causal", default: 0) != 0, softcap: try p.float("softcap", default: 0),
      mask: mask, maskFill: mask == .keyPadding ? try p.float("mask_fill") : 0,
      variant: try p.string("variant", default: "softmax"), variantValues: values,
      dispatch: p.values["dispatch"] == nil ? nil : try p.string("dispatch"))
    scores.causalFill = try p.float("causal_fill", default: -.infinity)
    scores.zeroNaNRows = try p.int("zero_nan_rows", default: 0) != 0
    appendsCache = try p.int("appends_cache", default: 0) != 0
    // A plan naming an unknown variant or an out-of-range parameter is refused when read.
    _ = try AttentionVariants.named(variant).resolve(variantValues)
  }

  public var parameters: [String: KernelParameter] {
    let s = scores
    var base: [String: KernelParameter] = [
      "scale": .float(Double(s.scale)), "causal": s.causal.parameter, "softcap": .float(Double(s.softcap)), "mask": .string(s.mask.rawValue),
    ]
    if s.mask == .keyPadding { base["mask_fill"] = .float(Double(s.maskFill)) }
    if s.causal && s.causalFill.isFinite { base["causal_fill"] = .float(Double(s.causalFill)) }
    if s.zeroNaNRows { base["zero_nan_rows"] = .int(1) }
    if appendsCache { base["appends_cache"] = .int(1) }
    var result = AttentionVariants.kernelParameters(base, variant: variant, values: variantValues)
    if let dispatch { result["dispatch"] = .string(dispatch) }
    return result
  }

  /// The exact kernel writes into the arena (the present keys and values too); the variants
  /// return arrays.
  public var memory: KernelMemory { appendsCache ? KernelMemory(outputs: [0, 1, 2]) : .output }

  /// The variant this call runs for `queries` query rows on `keys` keys. A decoding step (at
  /// most `TiledAttention.decodeRows` queries on more keys) always runs exact: one query row costs
  /// `O(L·d)` exactly, which no variant undercuts when it recomputes its state over the whole
  /// cache every step, and the variants' errors were measured on full-length inputs.
  public func variant(forKeys keys: Int, queries: Int? = nil) throws -> (AttentionVariantDefinition, VariantParameters) {
    if let queries, queries <= TiledAttention.decodeRows, queries < keys {
      return (AttentionVariantDefinition.softmax, try AttentionVariantDefinition.softmax.resolve([:]))
    }
    if let dispatch { return try AttentionVariants.parse(try AttentionDispatch(parsing: dispatch).variant(forKeys: keys)) }
    let definition = try AttentionVariants.named(variant)
    return (definition, try definition.resolve(variantValues))
  }

  /// Input index of the mask: after `Q, K, V`, or after `Q, pastK, newK, pastV, newV`.
  public var maskInput: Int { appendsCache ? 5 : 3 }

  /// The shape of K (the present keys when the call appends to a cache) among `shapes`.
  public func keyShape(_ shapes: KernelShapes) -> [Int]? {
    appendsCache ? (shapes.outputs.count > 1 ? shapes.outputs[1] : nil) : (shapes.inputs.count > 1 ? shapes.inputs[1] : nil)
  }

  /// `Q, K, V` and the mask (nil without one) of a run of this call from its `inputs` and
  /// `outputs`: the present keys and values when it appends to a cache.
  public func attentionOperands(_ inputs: [Tensor?], _ outputs: [Tensor]) -> [Tensor?] {
    let mask = scores.mask == .none || inputs.count <= maskInput ? nil : inputs[maskInput]
    guard appendsCache else { return Array(inputs.prefix(3)) + [mask] }
    return [inputs.first ?? nil, outputs.count > 1 ? outputs[1] : nil, outputs.count > 2 ? outputs[2] : nil, mask]
  }

  /// The same attention on `Q, K, V, mask?` operands (no cache append).
  public var onOperands: FusedAttentionCall {
    var call = self
    call.appendsCache = false
    return call
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let q = try KernelCalls.input(inputs, 0)
    let mask: TiledAttention.Mask
    let s = scores
    switch s.mask {
    case .none: mask = .none
    case .keyPadding: mask = .keyPadding(try KernelCalls.input(inputs, maskInput), fill: s.maskFill)
    case .bias: mask = .bias(try KernelCalls.input(inputs, maskInput))
    case .keyWeights: mask = .keyWeights(try KernelCalls.input(inputs, maskInput))
    }
    var options = TiledAttention.Options(
      scale: s.scale, causal: s.causal, causalFill: s.causalFill, zeroNaNRows: s.zeroNaNRows, softcap: s.softcap)
    var k: Tensor, v: Tensor
    if appendsCache {
      let past = (keys: try KernelCalls.input(inputs, 1), values: try KernelCalls.input(inputs, 3))
      let new = (keys: try KernelCalls.input(inputs, 2), values: try KernelCalls.input(inputs, 4))
      let keys = (past.keys.shape.dropLast().last ?? 0) + (new.keys.shape.dropLast().last ?? 0)
      let (definition, values) = try variant(forKeys: keys, queries: q.shape.dropLast().last)
      guard definition.kernel != nil else {
        definition.configure(&options, values)
        return try TiledAttention.runAppending(q: q, past: past, new: new, mask: mask, options: options, output: context.output)
      }
      k = try Movement.concat([past.keys, new.keys], axis: 2, output: context.output(1))
      v = try Movement.concat([past.values, new.values], axis: 2, output: context.output(2))
    } else {
      (k, v) = (try KernelCalls.input(inputs, 1), try KernelCalls.input(inputs, 2))
    }
    let (definition, values) = try variant(forKeys: k.shape.dropLast().last ?? 0, queries: q.shape.dropLast().last)
    let y: Tensor
    if definition.kernel == nil {
      definition.configure(&options, values)
      y = try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options, output: context.output(0))
    } else {
      y = try VariantAttention.run(definition, parameters: values, q: q, k: k, v: v, mask: mask, scale: s.scale, causal: s.causal)
    }
    return appendsCache ? [y, k, v] : [y]
  }

  /// The variant's own cost formula per batch item and head (exact attention: the visible part
  /// of QKᵀ and P·V), priced per candidate by the policy.
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    guard shapes.inputs.count >= 3, let q = shapes.inputs[0], let k = keyShape(shapes), let out = shapes.outputs.first,
      q.count == 4, k.count == 4, out.count == 4, let (definition, values) = try? variant(forKeys: k[2], queries: q[2])
    else { return KernelCost(isAttention: true) }
    let head = AttentionShape(queries: q[2], keys: k[2], depth: q[3], valueDepth: out[3], causal: scores.causal)
    return KernelCost(flops: Double(q[0] * q[1]) * definition.cost(head, values).flops, isAttention: true)
  }
}

/// A kernel whose parameters are one `Options` value and which takes its inputs in the ONNX op's
/// order: its call is `OptionsCall<Self>`.
public protocol OptionsKernel {
  associatedtype Options: Codable & Sendable
  /// The kernel's name in plans (the ONNX op's).
  static var kernelName: String { get }
  static func run(_ inputs: [Tensor?], options: Options) throws -> [Tensor]
}

/// The call of an `OptionsKernel`: its options, encoded as the plan's `options` parameter.
public struct OptionsCall<Kernel: OptionsKernel>: CodableKernelCall {
  public static var names: [String] { [Kernel.kernelName] }
  public var options: Kernel.Options

  public init(options: Kernel.Options) { self.options = options }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] { try Kernel.run(inputs, options: options) }
}

/// ONNX `Attention` (opset 23), run by the reference kernel (3-D or 4-D inputs, past key and
/// value, GQA, windows, softcap, qk output modes).
public typealias AttentionCall = OptionsCall<AttentionReference>

extension AttentionReference: OptionsKernel {
  public static var kernelName: String { "Attention" }

  public static func run(_ inputs: [Tensor?], options: Options) throws -> [Tensor] {
    let q = try KernelCalls.input(inputs, 0), k = try KernelCalls.input(inputs, 1), v = try KernelCalls.input(inputs, 2)
    return try run(
      q: q, k: k, v: v, mask: KernelCalls.optional(inputs, 3), pastKey: KernelCalls.optional(inputs, 4),
      pastValue: KernelCalls.optional(inputs, 5), nonpad: KernelCalls.optional(inputs, 6), options: options)
  }
}

/// Rotary position embedding: rotate the first `rotaryDim` features of each head
/// (`RotaryEmbeddingKernel`). Inputs `X, cos, sin, positions?` as ONNX's `RotaryEmbedding` takes
/// them, or, with `broadcastTables` (`FusedRotary`), `X, cos, sin` with tables broadcasting to X.
public struct RotaryEmbeddingCall: CodableKernelCall {
  public var interleaved: Bool
  /// 0 = the whole head.
  public var rotaryDim: Int
  /// Heads of a 3-D input; 0 for 4-D.
  public var numHeads: Int
  /// True: the tables broadcast to X's leading axes, `R` or `R/2` entries a row (the exporters'
  /// form); nil (not written) for ONNX's form.
  public var broadcastTables: Bool?
  enum CodingKeys: String, CodingKey {
    case interleaved, rotaryDim = "rotary_embedding_dim", numHeads = "num_heads", broadcastTables = "broadcast_tables"
  }

  public init(interleaved: Bool, rotaryDim: Int, numHeads: Int, broadcastTables: Bool = false) {
    self.interleaved = interleaved
    self.rotaryDim = rotaryDim
    self.numHeads = numHeads
    self.broadcastTables = broadcastTables ? true : nil
  }

  /// Each pair is read before it is written: X may be overwritten.
  public var memory: KernelMemory { KernelMemory(outputs: [0], inPlace: [0]) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let (x, cos, sin) = (try KernelCalls.input(inputs, 0), try KernelCalls.input(inputs, 1), try KernelCalls.input(inputs, 2))
    if broadcastTables == true {
      return [try RotaryEmbeddingKernel.runBroadcast(
        x, cos: cos, sin: sin, rotaryDim: rotaryDim, interleaved: interleaved, output: context.output(0))]
    }
    return [try RotaryEmbeddingKernel.run(
      x, cos: cos, sin: sin, positions: KernelCalls.optional(inputs, 3), interleaved: interleaved, rotaryDim: rotaryDim,
      numHeads: numHeads, output: context.output(0))]
  }
}

/// ONNX `LinearAttention` (opset 27): the recurrent state update of linear attention and its
/// gated and delta-rule forms.
public typealias LinearAttentionCall = OptionsCall<LinearAttentionKernel>

extension LinearAttentionKernel: OptionsKernel {
  public static var kernelName: String { "LinearAttention" }

  public static func run(_ inputs: [Tensor?], options: Options) throws -> [Tensor] {
    try run(
      query: KernelCalls.input(inputs, 0), key: KernelCalls.input(inputs, 1), value: KernelCalls.input(inputs, 2),
      pastState: KernelCalls.optional(inputs, 3), decay: KernelCalls.optional(inputs, 4), beta: KernelCalls.optional(inputs, 5),
      options: options)
  }
}

/// Token merging between encoder blocks (ToMe bipartite soft matching): merges `r` tokens.
public struct TokenMergeCall: CodableKernelCall {
  public var r: Int
  /// The first token (a class token) never merges.
  public var protectFirst: Bool
  enum CodingKeys: String, CodingKey { case r, protectFirst = "protect_first" }

  public init(r: Int, protectFirst: Bool) { (self.r, self.protectFirst) = (r, protectFirst) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    try TokenMergeKernel.merge(
      x: KernelCalls.input(inputs, 0), keys: KernelCalls.input(inputs, 1), sizes: KernelCalls.optional(inputs, 2),
      origin: KernelCalls.optional(inputs, 3), padding: KernelCalls.optional(inputs, 4), r: r, protectFirst: protectFirst)
  }

  /// The matching's |A|×|B| similarity product, 2·(N/2)²·d = N²·d/2 FLOPs per batch item, the
  /// best-partner scan over the (N/2)² scores, and x read and written.
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    guard shapes.inputs.count > 1, let keys = shapes.inputs[1], keys.count == 4 else { return .streaming(shapes) }
    let (b, n, d) = (Double(keys[0]), Double(keys[2]), Double(keys[3]))
    return KernelCost(flops: b * n * n * d / 2, bytes: 4 * b * n * n / 4 + 8 * shapes.outputElements(0))
  }
}

/// Token unmerging at the outputs: every original token takes its merged token's value.
public struct TokenUnmergeCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try TokenMergeKernel.unmerge(y: KernelCalls.input(inputs, 0), origin: KernelCalls.input(inputs, 1))]
  }
}
