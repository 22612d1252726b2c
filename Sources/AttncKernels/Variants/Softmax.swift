/// `softmax`: exact attention, run by the fused tiled kernel (`TiledAttention`), which honours
/// every mask (per-key weights as the bias `log w_j`), causality and softcap.
///
/// `prec=bf16`: the same kernel with Q, K, V and the probabilities rounded to bfloat16 and
/// multiplied with float32 accumulation (AVX512-BF16 where the machine has it), the softmax in
/// float32 (`TiledAttention.Precision`). Its time is fitted from its own timings in the machine
/// profile (`MachineCalibration`), so its cost is the measured bfloat16 rate.
///
/// `prec=int8`: Q·Kᵀ as SageAttention (Zhang et al., 2024) computes it: K smoothed by its mean
/// over the keys (a constant shift of each score row, which the softmax ignores; skipped under a
/// softcap), Q and K quantized to int8 per block (16 query rows, 32 keys), their products summed
/// exactly in int32 (AVX512-VNNI) and dequantized by the blocks' scales; P·V as in `prec=bf16`.
/// Its cost is fitted from its own timings too (the int8 rate).
///
/// `prec=int8pv`: Q·Kᵀ as `prec=int8`, and P·V in 8 bits too (after SageAttention2, int8 for its
/// FP8): the probabilities of each row and panel of 32 keys as uint8 against the panel's largest,
/// V in int8 per value column, the products exact in int32 (`vpdpbusd`). Fitted from its own
/// timings.
///
/// `skip=λ` (skip-softmax, BLASST): a key block whose scores are, on every row of a query strip,
/// more than λ under the rows' running maxima adds less than `e^-λ` per key to each row's sum,
/// so its exponentials and P·V are skipped (its Q·Kᵀ still runs). 0, the default, never skips
/// (λ = ∞): exactly the plain kernel. Its cost counts the density measured on calibration inputs.
extension AttentionVariantDefinition {
  public static let softmax = AttentionVariantDefinition(
    name: "softmax",
    summary: "exact attention, tiled with an online softmax (the reference every variant is measured against); prec=bf16 multiplies in bfloat16",
    parameters: [
      .choice(
        "prec", TiledAttention.Precision.allCases.map(\.name),
        help: "precision of Q·Kᵀ and P·V (f32; bf16 with float32 accumulation; int8: Q·Kᵀ in int8 with K smoothed, P·V in bf16; int8pv: P·V in 8 bits too)"),
      .heads(
        "f32heads", help: "with prec=bf16, int8 or skip: query heads kept exact, float32 without skipping (0+3), the policy's per-head choice"
      ).untimed,
      .heads("bf16heads", help: "with prec=int8 or int8pv: query heads run in bf16 instead (1+4), the policy's per-head choice").untimed,
      .off("skip", 0...1000, help: "skip-softmax λ: skip a key block's exponentials and P·V when every row scores λ under its running maximum (0: never)"),
    ],
    supportsCausal: true,
    cost: { s, p in
      let (n, nk, d, dv) = (Double(s.queries), Double(s.keys), Double(s.depth), Double(s.valueDepth))
      // Causal: the visible fraction of the score matrix (bottom-right aligned).
      let visible = s.causal ? min(1, (nk - n + (n + 1) / 2) / nk) : 1
      let pairs = n * nk * visible
      // Skip-softmax: Q·Kᵀ on every tile, the exponentials and P·V on the attended share.
      let attended = p["skip"] > 0 ? s.density : 1
      let options = TiledAttention.Options(scale: 1)
      let queryBlocks = (n / Double(options.queryBlock)).rounded(.up)
      // K and V are read once per query block: packed as bfloat16 they are half the bytes, in
      // int8 a quarter.
      let precision = TiledAttention.Precision(p)
      let operand = precision == .float32 ? 4.0 : 2.0
      let keyOperand = precision.quantizesScores ? 1.0 : operand, valueOperand = precision == .int8pv ? 1.0 : operand
      // In int8, quantizing reads Q once more (its blocks' maxima) and float K twice more (its
      // mean, its blocks' maxima) before packing; in int8pv float V twice more (column maxima).
      let quantizing = (precision.quantizesScores ? 4 * n * d + 8 * nk * d : 0) + (precision == .int8pv ? 8 * nk * dv : 0)
      let bytes = 4 * n * (d + dv) + quantizing + (keyOperand * d + valueOperand * dv) * nk * queryBlocks * visible
      return AttentionCost(
        flops: pairs * (2 * d + (2 * dv + 4) * attended), exponentials: pairs * attended, bytes: bytes,
        // K (and V) packed, and per thread a 12-row score strip with the running maxima and sums.
        extraMemoryBytes: keyOperand * (nk / 32).rounded(.up) * 32 * d + (precision == .float32 ? 0 : valueOperand * nk * dv)
          + 4 * Double(12 * options.keyBlock + 2 * options.queryBlock))
    },
    kernel: nil,
    tiledOptions: { options, p in
      // Skipping decides per strip and key block: 64 keys a step give it more tiles to drop.
      if p["skip"] > 0 { (options.skipBelow, options.keyBlock) = (Float(p["skip"]), 64) }
    },
    timedAs: { p in
      // With skip the kernel steps 64 keys at a time: priced at the rate timed for that kernel
      // (`skip=1000`, which never skips on the calibration's normal inputs) at the density.
      let precision = TiledAttention.Precision(p)
      let parts = (precision == .float32 ? [] : ["prec=\(precision.name)"]) + (p["skip"] > 0 ? ["skip=1000"] : [])
      return parts.isEmpty ? "softmax" : "softmax:" + parts.joined(separator: ",")
    },
    onnxRefusal: "prec=bf16 rounds Q, K, V and the probabilities to bfloat16 (prec=int8 quantizes Q and K to int8, int8pv P and V too) and skip skips tiles inside the fused kernel, which is not written yet")
}

extension TiledAttention.Precision {
  /// The precision a `softmax` setting's parameters ask for.
  public init(_ parameters: VariantParameters) { self = Self(rawValue: Int32(parameters.int("prec"))) ?? .float32 }
}

extension TiledAttention.Options {
  /// Takes the precision a `softmax` setting's parameters ask for: `prec`, the heads
  /// `f32heads` keeps in float32 and those `bf16heads` runs in bfloat16.
  public mutating func setPrecision(_ parameters: VariantParameters) {
    precision = TiledAttention.Precision(parameters)
    float32Heads = UInt64(exactly: parameters["f32heads"]) ?? 0
    bfloat16Heads = UInt64(exactly: parameters["bf16heads"]) ?? 0
  }
}
