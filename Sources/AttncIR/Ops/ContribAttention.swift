import AttncTensor

/// ONNX Runtime's contrib op `com.microsoft.Attention(input, weights, bias?, mask_index?, …)`:
/// multi-head self-attention with the Q, K and V projections packed in one weight
/// `[hidden_in, q + k + v]`, as ONNX Runtime's transformers optimizer writes BERT-style layers.
/// `Y = concat_h softmax(scale·Q_h·K_hᵀ + mask)·V_h` with `Q, K, V = split(input·weights + bias)`.
///
/// attnc has no kernel of its own for it: `expand-contrib-attention` rewrites it into the
/// standard ops it stands for, so attention matching, the policies and the variants apply to it
/// as to any export: `unidirectional` (causal) and a `past`/`present` cache included. The forms
/// it does not take (`ContribAttentionForms.attentionRefusal`) stay, and lowering names the reason.
public struct ContribAttention: AttributedOp {
  public var settings: ContribAttentionSettings
  public var heads: Int { settings.heads }
  /// Hidden sizes of Q, K and V when they differ (else three equal thirds of the weight).
  public var qkvHiddenSizes: [Int]?
  public var doRotary: Bool
  /// `past_present_share_buffer`: past and present are one preallocated buffer.
  public var sharesBuffer: Bool

  public init(attributes: Attributes, opset: Int) throws {
    settings = try ContribAttentionSettings(attributes)
    qkvHiddenSizes = try attributes.ints("qkv_hidden_sizes")
    doRotary = try attributes.int("do_rotary", default: 0) != 0
    sharesBuffer = try attributes.int("past_present_share_buffer", default: 0) != 0
    if let sizes = qkvHiddenSizes, sizes.count != 3 || sizes.contains(where: { $0 <= 0 || $0 % heads != 0 }) {
      throw AttncError.invalid("attribute 'qkv_hidden_sizes' must be 3 positive multiples of num_heads, got \(sizes)")
    }
  }

  /// Q, K and V hidden sizes for a packed weight of `width` columns.
  /// - Throws: "weights have 100 columns, not 3 equal parts divisible by 4 heads".
  public func hiddenSizes(width: Int) throws -> [Int] {
    if let sizes = qkvHiddenSizes {
      guard sizes.reduce(0, +) == width else {
        throw AttncError.invalid("qkv_hidden_sizes \(sizes) do not add up to the weights' \(width) columns")
      }
      return sizes
    }
    guard width % 3 == 0, (width / 3) % heads == 0 else {
      throw AttncError.invalid("weights have \(width) columns, not 3 equal parts divisible by \(heads) heads")
    }
    return [width / 3, width / 3, width / 3]
  }

  /// `input [B, S, hidden_in]` float, `weights [hidden_in, q + k + v]` of known width; the
  /// output is `[B, S, v]`, and `present` `[2, B, H, P + S, d]` (past keys and values, then the
  /// new ones).
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...10)
    let x = try inputs.required(0), w = try inputs.required(1)
    try x.expectFloatingPoint("input")
    guard x.rank == 3, w.rank == 2, let width = w.dims[1].value else {
      throw AttncError.invalid("takes input [B, S, hidden] and weights [hidden, q+k+v] of known width, got \(x.dims.shapeDescription) and \(w.dims.shapeDescription)")
    }
    let sizes = try hiddenSizes(width: width)
    let output = TensorType(x.dtype, [x.dims[0], x.dims[1], Dim(sizes[2])])
    guard outputCount > 1 else { return [output] }
    var keys = x.dims[1]
    if let past = inputs.optional(4) {
      guard past.rank == 5 else { throw AttncError.invalid("past must be [2, B, H, P, d], got \(past.dims.shapeDescription)") }
      keys = past.dims[3] + keys
    }
    return [output, TensorType(x.dtype, [Dim(2), x.dims[0], Dim(heads), keys, Dim(sizes[1] / heads)])]
  }
}

extension ContribAttention: Lowerable {
  /// There is no kernel: `expand-contrib-attention` rewrites the forms it takes; the others end here.
  public func lower(_ context: NodeContext) throws -> Lowering? {
    throw AttncError.unsupported("this form of com.microsoft.Attention is not supported: \(ContribAttentionForms.attentionRefusal(self, context) ?? "it was not expanded")")
  }
}
