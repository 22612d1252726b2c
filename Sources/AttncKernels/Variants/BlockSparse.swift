/// `blocksparse` (SpargeAttn's selection, after XAttention's threshold on estimated block mass):
/// exact softmax attention on the key blocks each query block is estimated to need. Queries and
/// keys are cut into blocks of `block` rows; from the mean-pooled blocks the estimated share of
/// each key block in a query block's attention is `softmax_J(scale·q̄_I·k̄_J + log m_J)`, and key
/// blocks are kept in descending share until the kept shares reach `tau`. The first key block
/// and the diagonal's are always kept; with `sim > 0`, blocks whose rows are not alike (mean
/// pairwise cosine similarity below `sim`) are kept too (`BlockSelection`). The kept blocks run
/// through the fused tiled kernel (`TiledAttention` with `blockSparsity`): an online softmax over
/// exactly the kept keys, so every mask, causality and softcap hold on them. `tau=1` keeps every
/// block: exact attention.
///
/// `stride=S` estimates the shares with XAttention's antidiagonal scoring instead: per group of
/// `S` query rows, the sums `Σ_t q_{aS+S−1−t}·k_{bS+t}` against every group of `S` keys, a softmax
/// over them, summed per key block (`BlockSelection.Estimate.antidiagonal`; `2·N·Nk·d/S` FLOPs).
///
/// `prec=bf16` multiplies the kept blocks in bfloat16, as `softmax:prec=bf16`.
///
/// Its time is the fitted time of the kernel on blocks of `block` with every block kept
/// (`blocksparse:tau=1`, which the machine calibration times) at the density (share of visible
/// query-key pairs attended) measured on the calibration inputs, plus the estimate. Under per-key weights the
/// blocks' masses are `Σ w_j` and the kernel adds `log w_j`, as exact attention does.
extension AttentionVariantDefinition {
  public static let blockSparse = AttentionVariantDefinition(
    name: "blocksparse",
    summary: "exact attention on the key blocks holding an estimated share tau of each query block's attention (mean-pooled estimate)",
    parameters: [
      AttentionVariantDefinition.Parameter(
        "tau", default: 0.95, 0.5...1, integer: false, help: "estimated attention mass each query block keeps (1: every block, exact)"
      ).untimed,
      AttentionVariantDefinition.Parameter(
        "block", default: 64, 16...1024, help: "queries and keys per block (rounded up to a multiple of 32)"
      ).untimed,
      .off("sim", 0...1, help: "keep blocks whose rows' mean cosine similarity is below this (0: off)"),
      .off("stride", 0...64, integer: true, help: "estimate by antidiagonal sums at this stride (XAttention; 0: block means)"),
      .heads("denseheads", help: "query heads kept dense (0+3), the policy's per-head choice").untimed,
      .choice("prec", TiledAttention.Precision.allCases.map(\.name), help: "precision of Q·Kᵀ and P·V on the kept blocks, as softmax's"),
    ],
    supportsCausal: true,
    cost: { s, p in
      let (n, nk, d, dv) = (Double(s.queries), Double(s.keys), Double(s.depth), Double(s.valueDepth))
      let block = (max(16, Double(p.int("block"))) / 32).rounded(.up) * 32
      let visible = s.causal ? min(1, (nk - n + (n + 1) / 2) / nk) : 1
      let pairs = n * nk * visible * s.density
      let operand = p.int("prec") == 0 ? 4.0 : 2.0
      let (queryBlocks, keyBlocks) = ((n / block).rounded(.up), (nk / block).rounded(.up))
      // The estimate: pooling Q and K and the pooled scores, or the antidiagonal sums
      // (2·N·Nk·d / S) and their softmax.
      let stride = Double(p.int("stride"))
      let estimate = stride > 0 ? 2 * n * nk * d * visible / stride : (n + nk) * d + 2 * queryBlocks * keyBlocks * d * visible
      let estimateExponentials = stride > 0 ? n * nk * visible / (stride * stride) : queryBlocks * keyBlocks * visible
      return AttentionCost(
        flops: pairs * (2 * d + 2 * dv + 4) + estimate, exponentials: pairs + estimateExponentials,
        bytes: 4 * n * (d + dv) + operand * nk * (d + dv) * queryBlocks * visible * s.density,
        extraMemoryBytes: 4 * ((nk / 32).rounded(.up) * 32 * d + 12 * block + (n + nk) / block * d) + queryBlocks * keyBlocks)
    },
    kernel: nil,
    tiledOptions: { options, p in
      // Dense heads are exact: every block, float32.
      let dense = UInt64(exactly: p["denseheads"]) ?? 0
      options.blockSparsity = BlockSelection(
        tau: p["tau"], block: p.int("block"), similarity: p["sim"], denseHeads: dense, stride: p.int("stride"))
      options.float32Heads = dense
    },
    timedAs: { p in
      // The kernel on blocks of 64 with every block kept, timed by the machine calibration.
      let precision = TiledAttention.Precision(p)
      return "blocksparse:block=64" + (precision == .float32 ? "" : ",prec=\(precision.name)") + ",tau=1"
    },
    onnxRefusal: "its block selection depends on the inputs; the standard ops have no block-sparse attention")
}
