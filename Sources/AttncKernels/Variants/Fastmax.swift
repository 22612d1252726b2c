import AttncTensor
import CAttnc

/// `fastmax` (FAST, Gerami et al. 2024): the score weight is the degree-`p` Taylor polynomial
/// `f(x) = 1 + x (+ x²/2)` instead of `eˣ`, which factorises exactly:
/// `f(q·k) = φ(q)·φ(k)` with `φ(x) = [1, x, vec(x⊗x)/√2]` (`1 + d + d²` features), so it runs on the
/// kernelized skeleton with states of `d`, `d²` (and `d³`) floats, causal by streamed prefix sums.
/// With `normalize=1` (the paper's reference code) each token is centred over its features and
/// every token divided by the head's largest token norm, so `|x| ≤ 1`; `normalize=0` uses the
/// model's scaled `q·k`. It is a different function from softmax, not an approximation of it.
///
/// Per-key weights: `o_i = Σ_j w_j·f(q_i·k_j)·v_j / Σ_j w_j·f(q_i·k_j)` — each key's feature row
/// is multiplied by `w_j` (numerator and denominator alike); `normalize=1` takes the largest key
/// norm over the keys with `w_j ≠ 0`. Key `j` repeated `w_j` times gives the same result (the
/// centring is per token and duplicates do not change the largest norm).
extension AttentionVariantDefinition {
  public static let fastmax = AttentionVariantDefinition(
    name: "fastmax",
    summary: "factorized polynomial score 1+x(+x²/2) (p=1|2), causal by prefix sums; changes the score function",
    parameters: [Fastmax.degree, Fastmax.normalize], supportsCausal: true, changesScoreFunction: true,
    cost: { s, p in
      let features = Fastmax.featureCount(depth: s.depth, degree: p.int(Fastmax.degree))
      var cost = KernelizedCost.of(s, features: features, featureFLOPsPerInput: 1, exponentials: false)
      if p.int(Fastmax.normalize) != 0 { cost.flops += Double(s.queries + s.keys) * Double(s.depth) * 5 }
      return cost
    },
    kernel: { head, p in Fastmax.run(head, degree: p.int(Fastmax.degree), normalize: p.int(Fastmax.normalize) != 0) },
    onnxForm: Fastmax.onnxForm)
}

enum Fastmax {
  static let degree = AttentionVariantDefinition.Parameter("p", default: 2, 1...2, help: "degree of the polynomial")
  static let normalize = AttentionVariantDefinition.Parameter(
    "normalize", default: 1, 0...1, help: "1: centre tokens and divide by the largest norm (paper); 0: raw scaled q·k")

  static func featureCount(depth d: Int, degree: Int) -> Int { 1 + d + (degree == 2 ? d * d : 0) }

  /// The polynomial features in standard ops, then the kernelized skeleton. `normalize=1`:
  /// each token minus its feature mean, all divided by the head's largest such norm (keys with
  /// weight 0 left out of the largest), as `normalized`; else the scaled queries and raw keys.
  static let onnxForm: AttentionFormBuilder = { b, x, p in
    let d = x.depth, p2 = p.int(degree) == 2
    var q = x.q, k = x.k
    if p.int(normalize) != 0 {
      let tiny = b.scalar(.leastNormalMagnitude, "tiny")
      func centred(_ rows: String) -> (String, String) {
        let c = b.op("Sub", rows, b.reduce("ReduceMean", rows, axes: [3]))
        return (c, b.op("Sqrt", b.reduce("ReduceSum", b.op("Mul", c, c), axes: [3])))  // [B, H, N, 1]
      }
      let (cq, nq) = centred(x.q)
      var (ck, nk) = centred(x.k)
      if let w = x.weights { nk = b.op("Where", b.op("Equal", w, b.scalar(0, "zero")), b.scalar(0, "zero"), nk) }
      q = b.op("Div", cq, b.op("Max", b.reduce("ReduceMax", nq, axes: [2]), tiny))
      ck = b.op("Div", ck, b.op("Max", b.reduce("ReduceMax", nk, axes: [2]), tiny))
      k = ck
    } else {
      q = b.op("Mul", x.q, b.scalar(x.scale, "scale"))
    }
    // φ(x) = [1, x, vec(x⊗x)/√2]: a leading 1 by padding the feature axis with ones.
    let onePad = b.ints([0, 0, 0, 1, 0, 0, 0, 0], "one_pad")
    func features(_ rows: String) -> String {
      let linear = b.op("Pad", rows, onePad, b.scalar(1, "one"))
      guard p2 else { return linear }
      let outer = b.op("Mul", b.unsqueeze(rows, axes: [4]), b.unsqueeze(rows, axes: [3]))  // [B, H, N, d, d]
      let square = b.op("Mul", b.reshape(outer, [0, 0, 0, d * d]), b.scalar(0.70710678118654752, "half_root"))
      return b.add("Concat", [linear, square], [("axis", .int(3))])[0]
    }
    let phiK = KernelizedForm.weighted(&b, features(k), x.weights)
    return KernelizedForm.attend(
      &b, phiQ: features(q), phiK: phiK, v: x.v, features: featureCount(depth: d, degree: p.int(degree)),
      valueDepth: x.valueDepth, causal: x.causal)
  }

  static func run(_ head: AttentionHead, degree: Int, normalize: Bool) {
    let d = head.depth
    var q: [Float], k: [Float]
    if normalize {
      q = normalized(head.q, rows: head.queries, depth: d, weights: nil)
      k = normalized(head.k, rows: head.keys, depth: d, weights: head.keyWeights)
    } else {
      q = head.scaledQueries()
      k = Array(UnsafeBufferPointer(start: head.k, count: head.keys * d))
    }
    let map = PolynomialFeatures(depth: d, degree: degree)
    k.withUnsafeBufferPointer { kp in
      var view = head
      view.k = kp.baseAddress!
      KernelizedAttention.run(view, map: map, q: q)
    }
  }

  /// Each row minus its mean over features, all divided by the largest resulting row norm among
  /// the rows with nonzero weight (the paper's reference normalisation). The row loops are C
  /// (`attnc_center_rows`, `attnc_scale`).
  static func normalized(_ x: UnsafePointer<Float>, rows: Int, depth d: Int, weights: UnsafePointer<Float>?) -> [Float] {
    var result = [Float](repeating: 0, count: rows * d)
    var norms = [Float](repeating: 0, count: rows)
    result.withUnsafeMutableBufferPointer { y in
      norms.withUnsafeMutableBufferPointer { n in
        guard let yb = y.baseAddress, let nb = n.baseAddress else { return }
        attnc_center_rows(x, d, yb, rows, d, nb)
        var largest: Float = 0
        for r in 0..<rows where (weights?[r] ?? 1) != 0 { largest = max(largest, nb[r]) }
        if largest > 0 { attnc_scale(yb, rows * d, 1 / largest) }
      }
    }
    return result
  }
}

/// `φ(x) = [1, x, vec(x⊗x)/√2]` (degree 2) or `[1, x]` (degree 1): `φ(q)·φ(k) = 1 + q·k (+ (q·k)²/2)`.
struct PolynomialFeatures: DeterministicFeatureMap {
  let depth: Int
  let degree: Int
  var count: Int { Fastmax.featureCount(depth: depth, degree: degree) }

  func apply(_ x: UnsafePointer<Float>, rows: Int, into out: UnsafeMutablePointer<Float>) {
    let m = count, d = depth
    let half: Float = 0.70710678118654752
    for r in 0..<rows {
      let source = x + r * d, target = out + r * m
      target[0] = 1
      for t in 0..<d { target[1 + t] = source[t] }
      guard degree == 2 else { continue }
      for a in 0..<d {
        let scaled = source[a] * half, row = target + 1 + d + a * d
        for b in 0..<d { row[b] = scaled * source[b] }
      }
    }
  }
}
