import AttncTensor
import COpenBLAS
import Foundation

/// `nystrom` (Nyströmformer, Xiong et al. 2021), training-free form: with `m` segment-mean
/// landmarks `Q̃` (of the scaled queries) and `K̃` (of the unmasked keys),
/// `softmax(Q·K̃ᵀ) · pinv(softmax(Q̃·K̃ᵀ)) · (softmax(Q̃·Kᵀ)·V)`, the pseudo-inverse by the cubic
/// iteration `Z ← ¼·Z·(13I − XZ(15I − XZ(7I − XZ)))` from `Z₀ = Xᵀ/(‖X‖₁·‖X‖∞)`. The learned
/// depth-wise convolution residual is left out. Landmarks mix all positions: no causal form.
///
/// Per-key weights: the Nyström factors of the weighted matrix `softmax(Q·Kᵀ + log w)`. The key
/// landmarks are `w`-weighted segment means, each carrying its segment's mean weight `w̄_s`
/// (`SequenceProjection.pool`), so `softmax(Q·K̃ᵀ + log w̄)·pinv(softmax(Q̃·K̃ᵀ + log w̄))·
/// (softmax(Q̃·Kᵀ + log w)·V)`. With weights in {0, 1} this is the key-padding computation; with
/// as many landmarks as tokens it is exact proportional attention.
extension AttentionVariantDefinition {
  public static let nystrom = AttentionVariantDefinition(
    name: "nystrom",
    summary: "Nyström landmarks (m segment means) with an iterative pseudo-inverse, encoder only",
    parameters: [Nystrom.landmarks, Nystrom.iterations], supportsCausal: false,
    cost: { s, p in
      let (n, nk, d, dv) = (Double(s.queries), Double(s.keys), Double(s.depth), Double(s.valueDepth))
      let m = Double(min(p.int(Nystrom.landmarks), s.queries, s.keys)), iterations = Double(p.int(Nystrom.iterations))
      let flops = (n + nk) * d  // landmarks
        + n * m * (2 * d + 4) + m * m * (2 * d + 4) + m * nk * (2 * d + 4)  // the three softmaxes
        + iterations * 8 * m * m * m  // pseudo-inverse
        + 2 * m * nk * dv + 2 * m * m * dv + 2 * n * m * dv  // (K3·V), pinv·(…), K1·(…)
      let bytes = AttentionCost.operandBytes(s) + 4 * (m * nk + 2 * m * m)
      return AttentionCost(
        flops: flops, exponentials: n * m + m * m + m * nk, bytes: bytes,
        extraMemoryBytes: 4 * (m * nk + min(n, 256) * m + m * (2 * d + 2 * dv)) + 8 * 4 * m * m)
    },
    kernel: { head, p in Nystrom.run(head, landmarks: p.int(Nystrom.landmarks), iterations: p.int(Nystrom.iterations)) },
    onnxForm: Nystrom.onnxForm)
}

enum Nystrom {
  static let landmarks = AttentionVariantDefinition.Parameter("m", default: 64, 1...4096, help: "landmarks")
  static let iterations = AttentionVariantDefinition.Parameter("iterations", default: 6, 1...50, help: "pseudo-inverse iterations")

  static func run(_ head: AttentionHead, landmarks: Int, iterations: Int) {
    let (d, dv) = (head.depth, head.valueDepth)
    let q = head.scaledQueries()
    let querySegments = SequenceProjection.segments(length: head.queries, count: landmarks, weights: nil)
    let keySegments = SequenceProjection.segments(length: head.keys, count: landmarks, weights: head.keyWeights)
    guard !keySegments.isEmpty, !querySegments.isEmpty else { return }
    let (mq, mk) = (querySegments.count, keySegments.count)
    var queryLandmarks = [Float](repeating: 0, count: mq * d), keyLandmarks = [Float](repeating: 0, count: mk * d)
    q.withUnsafeBufferPointer { qp in
      for (s, segment) in querySegments.enumerated() {
        SequenceProjection.mean(qp.baseAddress!, width: d, segment, weights: nil, into: &queryLandmarks, row: s)
      }
    }
    for (s, segment) in keySegments.enumerated() {
      SequenceProjection.mean(head.k, width: d, segment, weights: head.keyWeights, into: &keyLandmarks, row: s)
    }
    // Each key landmark's weight w̄ (its segment's mean weight) and log w̄; nil without weights.
    let landmarkWeights = head.keyWeights.map { weights in keySegments.map { SequenceProjection.meanWeight($0, weights: weights) } }
    let landmarkLogWeights = landmarkWeights?.map { Foundation.log($0) }
    // K3·V: softmax(Q̃·Kᵀ + log w) over the keys, times V → [mq, dv].
    var kernel3 = [Float](repeating: 0, count: mq * head.keys)
    var summary = [Float](repeating: 0, count: mq * dv)
    kernel3.withUnsafeMutableBufferPointer { k3 in
      queryLandmarks.withUnsafeBufferPointer { ql in
        gemm(m: mq, n: head.keys, k: d, ql.baseAddress!, head.k, transposeB: true, into: k3.baseAddress!)
      }
      for r in 0..<mq {
        let row = k3.baseAddress! + r * head.keys
        if let weights = head.keyWeights {
          for j in 0..<head.keys { row[j] += weights[j] == 0 ? -.infinity : Foundation.log(weights[j]) }
        }
        VectorMath.softmaxRow(row, count: head.keys)
      }
      summary.withUnsafeMutableBufferPointer { gemm(m: mq, n: dv, k: head.keys, k3.baseAddress!, head.v, into: $0.baseAddress!) }
    }
    // pinv(softmax(Q̃·K̃ᵀ + log w̄)) · summary → [mk, dv].
    var kernel2 = [Float](repeating: 0, count: mq * mk)
    kernel2.withUnsafeMutableBufferPointer { k2 in
      queryLandmarks.withUnsafeBufferPointer { ql in
        keyLandmarks.withUnsafeBufferPointer { kl in
          gemm(m: mq, n: mk, k: d, ql.baseAddress!, kl.baseAddress!, transposeB: true, into: k2.baseAddress!)
        }
      }
      for r in 0..<mq {
        let row = k2.baseAddress! + r * mk
        if let landmarkLogWeights {
          for s in 0..<mk { row[s] += landmarkLogWeights[s] }
        }
        VectorMath.softmaxRow(row, count: mk)
      }
    }
    let inverse = pseudoInverse(kernel2.map(Double.init), rows: mq, columns: mk, iterations: iterations)
    var mixed = [Float](repeating: 0, count: mk * dv)
    for i in 0..<mk {
      for c in 0..<dv {
        var sum = 0.0
        for t in 0..<mq { sum += inverse[i * mq + t] * Double(summary[t * dv + c]) }
        mixed[i * dv + c] = Float(sum)
      }
    }
    // y = softmax(Q·K̃ᵀ + log w̄) · mixed.
    q.withUnsafeBufferPointer { qp in
      keyLandmarks.withUnsafeBufferPointer { kl in
        mixed.withUnsafeBufferPointer { mx in
          denseSoftmaxAttention(
            qp.baseAddress!, rows: head.queries, depth: d, kl.baseAddress!, keys: mk, mx.baseAddress!, valueDepth: dv,
            keyWeights: landmarkWeights, into: head.y)
        }
      }
    }
  }

  /// `run` in standard ops, padded to `m` landmarks on both sides so every shape is fixed:
  /// a query segment that does not exist (`S < m`) gives a zero row of `softmax(Q̃·K̃ᵀ)`, a key
  /// segment that does not exist or is fully masked a zero column (its mean weight 0, `log 0 =
  /// −∞`), and the iteration maps zero rows and columns of `X` to zero columns and rows of `Z`
  /// exactly, so the result is the kernel's on the landmarks it keeps. The pseudo-inverse and
  /// its product with `K3·V` run in float64, as the kernel's.
  static let onnxForm: AttentionFormBuilder = { b, x, p in
    let m = p.int(landmarks)
    let toFloat: [(name: String, value: ONNXAttribute)] = [("to", .int(Int64(DType.float.rawValue)))]
    let toDouble: [(name: String, value: ONNXAttribute)] = [("to", .int(Int64(DType.double.rawValue)))]
    let softmax: [(name: String, value: ONNXAttribute)] = [("axis", .int(-1))]
    let (zero, one) = (b.scalar(0, "fzero"), b.scalar(1, "fone"))
    let q = b.op("Mul", x.q, b.scalar(x.scale, "scale"))
    // Query landmarks: plain segment means of the scaled queries; a missing segment is a zero row.
    let queryPool = SequenceProjection.segmentForm(&b, length: b.scalarDimension(of: q, axis: 2), rank: m)  // [m, S]
    let queryCounts = b.reduce("ReduceSum", queryPool, axes: [1])  // [m, 1]
    let present = b.op("Cast", b.op("Greater", queryCounts, zero), attributes: toFloat)
    let queryLandmarks = b.op("Mul", b.op("MatMul", queryPool, q), b.op("Reciprocal", b.op("Max", queryCounts, one)))
    // Key landmarks: weighted segment means, each with the log of its mean weight (−∞: dropped).
    let pooled = SequenceProjection.poolForm(&b, x, rank: m, rows: [x.k])
    let keyLandmarks = pooled.rows[0]  // [B, H, m, d]
    let landmarkBias = b.transpose(b.op("Log", pooled.weights), [0, 1, 3, 2])  // [B, 1, 1, m]
    func attend(_ rows: String, _ columns: String, _ bias: String?) -> String {
      let scores = b.op("MatMul", rows, b.transpose(columns, [0, 1, 3, 2]))
      return b.op("Softmax", bias.map { b.op("Add", scores, $0) } ?? scores, attributes: softmax)
    }
    // K3·V over every key, softmax(Q̃·Kᵀ + log w).
    let keyBias = x.weights.map { b.transpose(b.op("Log", $0), [0, 1, 3, 2]) }
    let summary = b.op("MatMul", attend(queryLandmarks, x.k, keyBias), x.v)  // [B, H, m, dv]
    // pinv(softmax(Q̃·K̃ᵀ + log w̄)) by the iteration, from Z₀ = Xᵀ/(‖X‖₁·‖X‖∞).
    let kernel = b.op("Cast", b.op("Mul", attend(queryLandmarks, keyLandmarks, landmarkBias), present), attributes: toDouble)
    let magnitudes = b.op("Abs", kernel)
    let largestColumn = b.reduce("ReduceMax", b.reduce("ReduceSum", magnitudes, axes: [2]), axes: [3])
    let largestRow = b.reduce("ReduceMax", b.reduce("ReduceSum", magnitudes, axes: [3]), axes: [2])
    var z = b.op("Div", b.transpose(kernel, [0, 1, 3, 2]), b.op("Mul", largestColumn, largestRow))
    let indices = b.op("Range", b.int(0, "zero"), b.int(m, "landmarks"), b.int(1, "one"))
    let identity = b.op("Cast", b.op("Equal", b.unsqueeze(indices, axes: [1]), b.unsqueeze(indices, axes: [0])), attributes: toDouble)
    func times(_ a: Double) -> String { b.op("Mul", identity, b.constant(HostTensor(doubles: [a], shape: []), "coefficient")) }
    let (seven, fifteen, thirteen) = (times(7), times(15), times(13))
    let quarter = b.constant(HostTensor(doubles: [0.25], shape: []), "quarter")
    for _ in 0..<p.int(iterations) {
      let xz = b.op("MatMul", kernel, z)
      let inner = b.op("MatMul", xz, b.op("Sub", seven, xz))
      let middle = b.op("MatMul", xz, b.op("Sub", fifteen, inner))
      z = b.op("Mul", b.op("MatMul", z, b.op("Sub", thirteen, middle)), quarter)
    }
    let mixed = b.op("Cast", b.op("MatMul", z, b.op("Cast", summary, attributes: toDouble)), attributes: toFloat)  // [B, H, m, dv]
    let y = b.op("MatMul", attend(q, keyLandmarks, landmarkBias), mixed)
    return b.op("Where", b.op("IsNaN", y), zero, y)  // every key masked: zeros
  }

  /// Moore–Penrose pseudo-inverse of `x [rows, columns]` by the Nyströmformer iteration, in
  /// Double; returns `[columns, rows]`.
  static func pseudoInverse(_ x: [Double], rows: Int, columns: Int, iterations: Int) -> [Double] {
    // c [n, m] = a [n, k] · b [k, m], row-major, through OpenBLAS.
    func multiply(_ a: [Double], _ b: [Double], _ n: Int, _ k: Int, _ m: Int) -> [Double] {
      var c = [Double](repeating: 0, count: n * m)
      a.withUnsafeBufferPointer { ap in
        b.withUnsafeBufferPointer { bp in
          c.withUnsafeMutableBufferPointer { cp in
            cblas_dgemm(
              CblasRowMajor, CblasNoTrans, CblasNoTrans, blasint(n), blasint(m), blasint(k), 1, ap.baseAddress!, blasint(k),
              bp.baseAddress!, blasint(m), 0, cp.baseAddress!, blasint(m))
          }
        }
      }
      return c
    }
    var columnSum = [Double](repeating: 0, count: columns), largestRow = 0.0
    for i in 0..<rows {
      var rowSum = 0.0
      for j in 0..<columns {
        rowSum += abs(x[i * columns + j])
        columnSum[j] += abs(x[i * columns + j])
      }
      largestRow = max(largestRow, rowSum)
    }
    let denominator = columnSum.max()! * largestRow
    var z = [Double](repeating: 0, count: columns * rows)
    for i in 0..<rows {
      for j in 0..<columns { z[j * rows + i] = x[i * columns + j] / denominator }
    }
    // (a·I − b) for square b [rows, rows].
    func shifted(_ a: Double, _ b: [Double]) -> [Double] {
      var result = b.map { -$0 }
      for i in 0..<rows { result[i * rows + i] += a }
      return result
    }
    for _ in 0..<iterations {
      let xz = multiply(x, z, rows, columns, rows)
      let inner = multiply(xz, shifted(7, xz), rows, rows, rows)
      let middle = multiply(xz, shifted(15, inner), rows, rows, rows)
      z = multiply(z, shifted(13, middle), columns, rows, rows).map { $0 * 0.25 }
    }
    return z
  }
}
