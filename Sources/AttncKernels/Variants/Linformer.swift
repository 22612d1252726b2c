import AttncTensor

/// `linformer` (Wang et al. 2020): `softmax(Q·(E·K)ᵀ)·(F·V)` with `E, F [k, L]` along the sequence
/// axis — segment-mean pooling (`random=0`, the training-free stand-in) or the random
/// `E = δR, F = e^{−δ}R` of the paper's existence proof (`random=1`). Every pseudo-token mixes all
/// positions, so there is no causal form. Trained projections would come from a Linformer
/// checkpoint; no exporter writes one today.
///
/// Per-key weights (pooling only): the pooled keys and values are `w`-weighted segment means and
/// each pooled key enters the softmax with the log of its segment's mean weight
/// (`SequenceProjection.pool`): `o_i = Σ_s w̄_s·e^{q_i·k̄_s}·v̄_s / Σ_s w̄_s·e^{q_i·k̄_s}`. With
/// `k ≥ L` every segment is one key and this is exact proportional attention. `random=1` refuses
/// weights (`SequenceProjection.random`).
extension AttentionVariantDefinition {
  public static let linformer = AttentionVariantDefinition(
    name: "linformer",
    summary: "sequence-axis projection of K and V to k rows (pooling, or random E=δR, F=e^-δ R), encoder only",
    parameters: [SequenceProjection.rank, Linformer.random, SequenceProjection.delta, .seed(help: "seed of the random projection")],
    supportsCausal: false, supportsKeyWeights: { $0.int(Linformer.random) == 0 },
    cost: { s, p in
      let rank = p.int(SequenceProjection.rank)
      let (n, d, dv, k) = (Double(s.queries), Double(s.depth), Double(s.valueDepth), Double(min(rank, s.keys)))
      let projection = LowRankCost.projection(s, rank: rank, random: p.int(Linformer.random) != 0)
      return AttentionCost(
        flops: projection.flops + n * k * (2 * d + 2 * dv + 4), exponentials: n * k,
        bytes: AttentionCost.operandBytes(s) + 4 * k * (d + dv), extraMemoryBytes: projection.memory + 4 * min(n, 256) * k)
    },
    kernel: { head, p in
      let pooled = SequenceProjection.keysAndValues(of: head, p, random: p.int(Linformer.random) != 0)
      guard pooled.rows > 0 else { return }  // every key masked: zeros
      let q = head.scaledQueries()
      q.withUnsafeBufferPointer { qp in
        pooled.x.withUnsafeBufferPointer { kp in
          pooled.y.withUnsafeBufferPointer { vp in
            denseSoftmaxAttention(
              qp.baseAddress!, rows: head.queries, depth: head.depth, kp.baseAddress!, keys: pooled.rows, vp.baseAddress!,
              valueDepth: head.valueDepth, keyWeights: pooled.weights, into: head.y)
          }
        }
      }
    }, onnxForm: Linformer.onnxForm)
}

enum Linformer {
  /// The projection: random (1) or pooling (0).
  static let random = AttentionVariantDefinition.Parameter(
    "random", default: 0, 0...1, help: "1: random E=δR, F=e^-δ R; 0: segment-mean pooling")

  /// Segment-mean pooling in standard ops (`SequenceProjection.poolForm`), each pseudo-token
  /// entering the softmax with the log of its mean weight (`−∞` for an empty or fully masked
  /// segment, which the kernel drops). The random projection is drawn for each key length, so
  /// it has no form for a symbolic length.
  static let onnxForm: AttentionFormBuilder = { b, x, p in
    guard p.int(random) == 0 else {
      throw AttncError.unsupported("linformer:random=1 draws its projection for each key length; only pooling (random=0) has an ONNX form")
    }
    let pooled = SequenceProjection.poolForm(&b, x, rank: p.int(SequenceProjection.rank))
    let bias = b.transpose(b.op("Log", pooled.weights), [0, 1, 3, 2])  // [B, 1, 1, k]
    let scores = b.op("Add", b.op("MatMul", b.op("Mul", x.q, b.scalar(x.scale, "scale")), b.transpose(pooled.keys, [0, 1, 3, 2])), bias)
    let probabilities = b.op("Softmax", scores, attributes: [("axis", .int(-1))])
    let y = b.op("MatMul", probabilities, pooled.values)
    return b.op("Where", b.op("IsNaN", y), b.scalar(0, "zero"), y)  // every key masked: zeros
  }
}

/// Costs shared by the variants that shrink the sequence axis.
enum LowRankCost {
  /// FLOPs and extra bytes of `E·K`, `F·V` to `rank` rows.
  static func projection(_ s: AttentionShape, rank: Int, random: Bool) -> (flops: Double, memory: Double) {
    let (nk, d, dv, k) = (Double(s.keys), Double(s.depth), Double(s.valueDepth), Double(min(rank, s.keys)))
    let flops = random ? 2 * k * nk * (d + dv) : nk * (d + dv)
    return (flops, 4 * (k * (d + dv) + (random ? k * nk : 0)))
  }
}
