import AttncTensor

/// The operands of a variant's ONNX form (the body of an `ai.attnc` local function), as value
/// names inside the body: `q [B, H, S, d]` unscaled, `k [B, H, L, d]` and `v [B, H, L, dv]`
/// already repeated to the `H` query heads, and optional per-key weights.
public struct AttentionFormOperands: Sendable {
  public var q: String
  public var k: String
  public var v: String
  /// `[B, 1, L, 1]` float32 per-key weights (0 = masked; key padding arrives as 0/1); nil = 1.
  public var weights: String?
  public var heads: Int
  public var depth: Int
  public var valueDepth: Int
  public var scale: Float
  /// Query `i` sees keys `j ≤ i` (the form is only asked for causal attention whose queries are
  /// its keys, `S = L`).
  public var causal: Bool

  public init(q: String, k: String, v: String, weights: String?, heads: Int, depth: Int, valueDepth: Int, scale: Float, causal: Bool) {
    (self.q, self.k, self.v, self.weights) = (q, k, v, weights)
    (self.heads, self.depth, self.valueDepth, self.scale, self.causal) = (heads, depth, valueDepth, scale, causal)
  }
}

/// A variant's ONNX form: writes its standard-op body into the builder and returns the output
/// `[B, H, S, dv]`; throws `.unsupported` with the reason for parameters it cannot express.
public typealias AttentionFormBuilder = @Sendable (inout ONNXGraphBuilder, AttentionFormOperands, VariantParameters) throws -> String

/// The kernelized skeleton (`KernelizedAttention`) in standard ops:
/// `o_i = φ(q_i)ᵀ S / φ(q_i)ᵀ z`, `S = Σ_j φ(k_j) v_jᵀ`, `z = Σ_j φ(k_j)`. Causal attention uses
/// chunks of `chunk` tokens: each chunk's queries read the exclusive prefix sums of the earlier
/// chunks' states (`CumSum`) and weigh their own chunk's keys in a `chunk × chunk` tile with the
/// causal cut, so nothing of size `L × m × dv` or `L × L` is formed.
enum KernelizedForm {
  static let chunk = 128

  /// - Parameters: `phiQ [B, H, S, m]`, `phiK [B, H, L, m]` (masked keys already zero),
  ///   `v [B, H, L, dv]`.
  ///   `features` is `m`, `valueDepth` `dv`.
  static func attend(_ b: inout ONNXGraphBuilder, phiQ: String, phiK: String, v: String, features: Int, valueDepth: Int, causal: Bool) -> String {
    let (numerator, denominator) = causal
      ? causalSums(&b, phiQ: phiQ, phiK: phiK, v: v, features: features, valueDepth: valueDepth)
      : sums(&b, phiQ: phiQ, phiK: phiK, v: v)
    return ratio(&b, numerator, denominator)
  }

  /// `y = n / d`, rows with `d = 0` (every key masked) zero, as `AttentionHead.writeRatio`.
  static func ratio(_ b: inout ONNXGraphBuilder, _ numerator: String, _ denominator: String) -> String {
    let y = b.op("Div", numerator, denominator)
    return b.op("Where", b.op("IsNaN", y), b.scalar(0, "zero"), y)
  }

  static func sums(_ b: inout ONNXGraphBuilder, phiQ: String, phiK: String, v: String) -> (String, String) {
    let state = b.op("MatMul", b.transpose(phiK, [0, 1, 3, 2]), v)  // [B, H, m, dv]
    let z = b.reduce("ReduceSum", phiK, axes: [2])  // [B, H, 1, m]
    return (b.op("MatMul", phiQ, state), b.op("MatMul", phiQ, b.transpose(z, [0, 1, 3, 2])))
  }

  static func causalSums(_ b: inout ONNXGraphBuilder, phiQ: String, phiK: String, v: String, features: Int, valueDepth: Int) -> (String, String) {
    let c = chunk
    let length = b.dimension(of: phiQ, axis: 2)
    // pad = (c − L mod c) mod c tokens of zeros at the end, then [B, H, n, c, ·] chunks.
    let cVector = b.ints([c], "chunk")
    let pad = b.op("Mod", b.op("Sub", cVector, b.op("Mod", length, cVector)), cVector)
    let pads = b.add("Concat", [b.ints([0, 0, 0, 0, 0, 0], "pads_head"), pad, b.ints([0], "pads_tail")], [("axis", .int(0))])[0]
    func chunks(_ x: String, _ width: Int) -> String { b.reshape(b.op("Pad", x, pads), [0, 0, -1, c, width]) }
    let (q, k, vc) = (chunks(phiQ, features), chunks(phiK, features), chunks(v, valueDepth))
    let kT = b.transpose(k, [0, 1, 2, 4, 3])  // [B, H, n, m, c]
    let axis = b.int(2, "chunk_axis")
    let exclusive: [(name: String, value: ONNXAttribute)] = [("exclusive", .int(1))]
    let states = b.op("CumSum", b.op("MatMul", kT, vc), axis, attributes: exclusive)  // [B, H, n, m, dv]
    let z = b.op("CumSum", b.reduce("ReduceSum", k, axes: [3]), axis, attributes: exclusive)  // [B, H, n, 1, m]
    var lower = [Float](repeating: 0, count: c * c)
    for i in 0..<c { for j in 0...i { lower[i * c + j] = 1 } }
    let tile = b.op("Mul", b.op("MatMul", q, kT), b.constant(HostTensor(floats: lower, shape: [c, c]), "causal_tile"))
    let numerator = b.op("Add", b.op("MatMul", q, states), b.op("MatMul", tile, vc))
    let denominator = b.op("Add", b.op("MatMul", q, b.transpose(z, [0, 1, 2, 4, 3])), b.reduce("ReduceSum", tile, axes: [4]))
    // [B, H, n, c, w] → [B, H, n·c, w], the padding cut off.
    func tokens(_ x: String, _ width: Int) -> String {
      b.op("Slice", b.reshape(x, [0, 0, -1, width]), b.ints([0], "start"), length, b.ints([2], "token_axis"))
    }
    return (tokens(numerator, valueDepth), tokens(denominator, 1))
  }

  /// `φ(k)·w` when there are weights.
  static func weighted(_ b: inout ONNXGraphBuilder, _ phiK: String, _ weights: String?) -> String {
    weights.map { b.op("Mul", phiK, $0) } ?? phiK
  }
}
