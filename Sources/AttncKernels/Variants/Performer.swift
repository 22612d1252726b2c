import AttncTensor

/// `performer` (FAVOR+, Choromanski et al. 2021): kernelized attention with `m` positive
/// orthogonal random features; an unbiased estimate of `exp(q·k)`. Causal by streamed prefix
/// sums. On real pretrained heads its error is about that of uniform attention
/// (attention-variants.md §6): its variance grows like `exp(|q + k|²/2)/√m`.
///
/// Per-key weights: `o_i = Σ_j w_j·φ(q_i)·φ(k_j)·v_j / Σ_j w_j·φ(q_i)·φ(k_j)` — each key's feature
/// row is multiplied by `w_j` before it joins the state and the normaliser (and the causal
/// in-block tile), the unbiased estimate of proportional attention; key `j` repeated `w_j` times
/// gives the same sums.
extension AttentionVariantDefinition {
  public static let performer = AttentionVariantDefinition(
    name: "performer",
    summary: "FAVOR+ positive orthogonal random features (m), causal by prefix sums",
    parameters: [Performer.features, .seed(help: "seed of the feature draw (mixed with layer and head)")], supportsCausal: true,
    cost: { shape, p in
      KernelizedCost.of(shape, features: p.int(Performer.features), featureFLOPsPerInput: 2 * Double(shape.depth) + 2, exponentials: true)
    },
    kernel: { head, p in
      let map = PositiveRandomFeatures(features: p.int(Performer.features), depth: head.depth, seed: head.seed)
      KernelizedAttention.run(head, map: map, q: head.scaledQueries())
    }, onnxForm: Performer.onnxForm)
}

enum Performer {
  static let features = AttentionVariantDefinition.Parameter("m", default: 256, 1...8192, help: "random features per head")

  /// FAVOR+ in standard ops, with each head's `Ω` (the kernel's draw from the head's seed) as a
  /// `[1, H, d, m]` constant: `u = x·Ωᵀ − |x|²/2`, queries `exp(u − max over features)`, keys
  /// `exp(u − max over the head's keys and features)` (the removed constants cancel in the
  /// ratio, as in the kernel), then the kernelized skeleton.
  static let onnxForm: AttentionFormBuilder = { b, x, p in
    let m = p.int(features)
    var (phiQ, phiK) = featureForms(&b, x, keys: x.k, features: m) { p.seed(head: $0) }
    phiK = KernelizedForm.weighted(&b, phiK, x.weights)
    return KernelizedForm.attend(&b, phiQ: phiQ, phiK: phiK, v: x.v, features: m, valueDepth: x.valueDepth, causal: x.causal)
  }

  /// `φ(scale·q)` and `φ(keys)` for `m` features, head `h` drawing `Ω` from `seed(h)`.
  static func featureForms(
    _ b: inout ONNXGraphBuilder, _ x: AttentionFormOperands, keys: String, features m: Int, seed: (Int) -> UInt64
  ) -> (String, String) {
    let d = x.depth
    var omega = [Float](repeating: 0, count: x.heads * d * m)
    for h in 0..<x.heads {
      let rows = PositiveRandomFeatures(features: m, depth: d, seed: seed(h)).projection  // [m, d]
      for r in 0..<m { for t in 0..<d { omega[(h * d + t) * m + r] = rows[r * d + t] } }
    }
    let projection = b.constant(HostTensor(floats: omega, shape: [1, x.heads, d, m]), "omega")
    let half = b.scalar(0.5, "half")
    func logFeatures(_ rows: String) -> String {
      let norms = b.op("Mul", b.reduce("ReduceSum", b.op("Mul", rows, rows), axes: [3]), half)
      return b.op("Sub", b.op("MatMul", rows, projection), norms)
    }
    let uq = logFeatures(b.op("Mul", x.q, b.scalar(x.scale, "scale")))
    let phiQ = b.op("Exp", b.op("Sub", uq, b.reduce("ReduceMax", uq, axes: [3])))
    let uk = logFeatures(keys)
    return (phiQ, b.op("Exp", b.op("Sub", uk, b.reduce("ReduceMax", uk, axes: [2, 3]))))
  }
}

/// The cost of the kernelized skeleton (`KernelizedAttention`) with an `m`-feature map.
enum KernelizedCost {
  /// - Parameters: `featureFLOPsPerInput` per feature per input row (a `d`-projection is `2d`).
  static func of(_ s: AttentionShape, features m: Int, featureFLOPsPerInput: Double, exponentials: Bool) -> AttentionCost {
    let (n, nk, d, dv, mm) = (Double(s.queries), Double(s.keys), Double(s.depth), Double(s.valueDepth), Double(m))
    let block = Double(KernelizedAttention.block)
    var flops = (n + nk) * mm * featureFLOPsPerInput  // features
    flops += nk * mm * (2 * dv + 1)  // S += φ(K)ᵀV, z
    flops += n * mm * (2 * dv + 2) + n * dv  // φ(Q)·S, φ(Q)·z, divide
    if s.causal { flops += n * min(block, nk) * (2 * mm + 2 * dv) }  // in-block tiles
    let blocks = ((n + nk) / block).rounded(.up)
    let bytes = AttentionCost.operandBytes(s) + 4 * blocks * mm * (d + dv + 1)
    let extra = 4 * (mm * d + mm * (dv + 1) + 2 * block * mm + block * block + n * (dv + 2))
    return AttentionCost(flops: flops, exponentials: exponentials ? (n + nk) * mm : 0, bytes: bytes, extraMemoryBytes: extra)
  }
}
