/// `softmax`: exact attention, run by the fused tiled kernel (`TiledAttention`), which honours
/// every mask (per-key weights as the bias `log w_j`), causality and softcap.
///
/// `prec=bf16`: the same kernel with Q, K, V and the probabilities rounded to bfloat16 and
/// multiplied with float32 accumulation (AVX512-BF16 where the machine has it), the softmax in
/// float32 (`TiledAttention.Precision`). Its time is fitted from its own timings in the machine
/// profile (`MachineCalibration`), so its cost is the measured bfloat16 rate.
extension AttentionVariantDefinition {
  public static let softmax = AttentionVariantDefinition(
    name: "softmax",
    summary: "exact attention, tiled with an online softmax (the reference every variant is measured against); prec=bf16 multiplies in bfloat16",
    parameters: [
      .choice("prec", TiledAttention.Precision.allCases.map(\.name), help: "precision of Q·Kᵀ and P·V (f32, or bf16 with float32 accumulation)"),
      .heads("f32heads", help: "with prec=bf16: query heads kept in float32 (0+3), the policy's per-head choice"),
    ],
    supportsCausal: true,
    cost: { s, p in
      let (n, nk, d, dv) = (Double(s.queries), Double(s.keys), Double(s.depth), Double(s.valueDepth))
      // Causal: the visible fraction of the score matrix (bottom-right aligned).
      let visible = s.causal ? min(1, (nk - n + (n + 1) / 2) / nk) : 1
      let pairs = n * nk * visible
      let options = TiledAttention.Options(scale: 1)
      let queryBlocks = (n / Double(options.queryBlock)).rounded(.up)
      // K and V are read once per query block: packed as bfloat16 they are half the bytes.
      let operand = p.int("prec") == 0 ? 4.0 : 2.0
      let bytes = 4 * n * (d + dv) + operand * nk * (d + dv) * queryBlocks * visible
      return AttentionCost(
        flops: pairs * (2 * d + 2 * dv + 4), exponentials: pairs, bytes: bytes,
        // K (and V) packed, and per thread a 12-row score strip with the running maxima and sums.
        extraMemoryBytes: operand * ((nk / 32).rounded(.up) * 32 * d + (p.int("prec") == 0 ? 0 : nk * dv))
          + 4 * Double(12 * options.keyBlock + 2 * options.queryBlock))
    },
    kernel: nil,
    onnxRefusal: "prec=bf16 rounds Q, K, V and the probabilities to bfloat16 inside the fused kernel, which is not written yet")
}

extension TiledAttention.Precision {
  /// The precision a `softmax` setting's parameters ask for.
  public init(_ parameters: VariantParameters) { self = Self(rawValue: Int32(parameters.int("prec"))) ?? .float32 }
}

extension TiledAttention.Options {
  /// Takes the precision a `softmax` setting's parameters ask for: `prec`, and the heads
  /// `f32heads` keeps in float32.
  public mutating func setPrecision(_ parameters: VariantParameters) {
    precision = TiledAttention.Precision(parameters)
    float32Heads = UInt64(exactly: parameters["f32heads"]) ?? 0
  }
}
