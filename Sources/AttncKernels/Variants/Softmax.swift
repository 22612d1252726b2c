/// `softmax`: exact attention, run by the fused tiled kernel (`TiledAttention`), which honours
/// every mask (per-key weights as the bias `log w_j`), causality and softcap.
extension AttentionVariantDefinition {
  public static let softmax = AttentionVariantDefinition(
    name: "softmax",
    summary: "exact attention, tiled with an online softmax (the reference every variant is measured against)",
    parameters: [], supportsCausal: true,
    cost: { s, _ in
      let (n, nk, d, dv) = (Double(s.queries), Double(s.keys), Double(s.depth), Double(s.valueDepth))
      // Causal: the visible fraction of the score matrix (bottom-right aligned).
      let visible = s.causal ? min(1, (nk - n + (n + 1) / 2) / nk) : 1
      let pairs = n * nk * visible
      let options = TiledAttention.Options(scale: 1)
      let queryBlocks = (n / Double(options.queryBlock)).rounded(.up)
      let bytes = 4 * n * (d + dv) + 4 * nk * (d + dv) * queryBlocks * visible
      return AttentionCost(
        flops: pairs * (2 * d + 2 * dv + 4), exponentials: pairs, bytes: bytes,
        // K packed in panels, and per thread a 12-row score strip with the running maxima and sums.
        extraMemoryBytes: 4 * ((nk / 32).rounded(.up) * 32 * d + Double(12 * options.keyBlock + 2 * options.queryBlock)))
    },
    kernel: nil)
}
