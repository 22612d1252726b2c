import AttncTensor

/// `Einsum` on floats: `out[o…] = Σ Πᵢ inputᵢ[termᵢ…]` over the labels not in the output.
///
/// Labels arrive as integers, one per axis (the lowering expands `...` into explicit labels), so
/// the kernel never parses the equation. Evaluation:
/// 1. per input, take the diagonal of repeated labels and sum out labels no one else reads;
/// 2. fold the operands left to right, each step a batched matmul: labels in both operands and
///    still needed are batch axes, labels in both and not needed are contracted (`k`), the rest
///    are rows (`m`, left) or columns (`n`, right); `gemm` does `[m, k]·[k, n]` per batch;
/// 3. sum out what is left and lay the result out in the output's label order.
/// A label of dim 1 in one operand broadcasts against the same label's dim in another.
public enum EinsumContraction {
  /// A tensor whose axes are named by distinct labels, elements row-major.
  struct Operand {
    var labels: [Int]
    var dims: [Int]
    var values: [Float]

    /// Dim of `label` here (1 if absent).
    func dim(_ label: Int) -> Int { labels.firstIndex(of: label).map { dims[$0] } ?? 1 }

    /// The elements laid out over `order` with `sizes`; an absent label or a dim of 1 broadcasts.
    func laidOut(_ order: [Int], _ sizes: [Int]) -> [Float] {
      if order == labels, sizes == dims { return values }
      let own = rowMajorStrides(dims)
      let strides = zip(order, sizes).map { label, size -> Int in
        guard let axis = labels.firstIndex(of: label), dims[axis] == size else { return 0 }
        return own[axis]
      }
      return stridedOffsets(sizes, strides: strides).map { values[$0] }
    }

    /// Sums out the labels not in `keep`.
    func summingOut(keeping keep: Set<Int>) -> Operand {
      let kept = labels.indices.filter { keep.contains(labels[$0]) }
      guard kept.count < labels.count else { return self }
      let dropped = labels.indices.filter { !keep.contains(labels[$0]) }
      let order = (kept + dropped).map { labels[$0] }
      let sizes = (kept + dropped).map { dims[$0] }
      let arranged = laidOut(order, sizes)
      let block = dropped.map { dims[$0] }.reduce(1, *)
      let count = kept.map { dims[$0] }.reduce(1, *)
      var out = [Float](repeating: 0, count: count)
      for i in 0..<count {
        var sum: Float = 0
        for j in 0..<block { sum += arranged[i * block + j] }
        out[i] = sum
      }
      return Operand(labels: kept.map { labels[$0] }, dims: kept.map { dims[$0] }, values: out)
    }
  }

  /// Evaluates the einsum of `inputs`; `terms[i]` labels input i's axes (repeats allowed),
  /// `output` labels the result's axes (distinct, each in some term).
  /// - Throws: "label 3 has dims 4 and 5" when dims neither match nor broadcast.
  public static func evaluate(_ inputs: [Tensor], terms: [[Int]], output: [Int]) throws -> Tensor {
    guard inputs.count == terms.count, !inputs.isEmpty else {
      throw AttncError.invalid("einsum has \(terms.count) terms for \(inputs.count) inputs")
    }
    var sizes: [Int: Int] = [:]
    for (input, term) in zip(inputs, terms) {
      guard input.rank == term.count else {
        throw AttncError.invalid("einsum term of \(term.count) labels for an input of rank \(input.rank)")
      }
      for (label, dim) in zip(term, input.shape) {
        let known = sizes[label] ?? 1
        guard known == dim || known == 1 || dim == 1 else {
          throw AttncError.invalid("label \(label) has dims \(known) and \(dim)")
        }
        sizes[label] = max(known, dim)
      }
    }
    func size(_ label: Int) -> Int { sizes[label] ?? 1 }
    // Which labels each later stage needs: the output's, and every input's from index i on.
    var neededFrom = [Set<Int>](repeating: Set(output), count: terms.count + 1)
    for i in stride(from: terms.count - 1, through: 0, by: -1) {
      neededFrom[i] = neededFrom[i + 1].union(terms[i])
    }
    var operands = zip(inputs, terms).map { diagonal($0, $1) }
    for i in operands.indices {
      let others = neededFrom[i + 1].union(terms[..<i].joined())
      operands[i] = operands[i].summingOut(keeping: others)
    }
    var result = operands[0]
    for i in 1..<operands.count {
      result = contract(result, operands[i], keeping: neededFrom[i + 1], size: size)
    }
    result = result.summingOut(keeping: Set(output))
    let shape = output.map(size)
    return .float(result.laidOut(output, shape), shape, dtype: inputs[0].dtype)
  }

  /// The input as an operand over distinct labels: a repeated label reads the diagonal.
  static func diagonal(_ x: Tensor, _ term: [Int]) -> Operand {
    var labels: [Int] = []
    var dims: [Int] = []
    var strides: [Int] = []
    for (axis, stride) in rowMajorStrides(x.shape).enumerated() {
      if let k = labels.firstIndex(of: term[axis]) {
        strides[k] += stride
      } else {
        labels.append(term[axis])
        dims.append(x.shape[axis])
        strides.append(stride)
      }
    }
    if labels.count == term.count { return Operand(labels: labels, dims: dims, values: x.floats.owned) }
    return Operand(labels: labels, dims: dims, values: stridedOffsets(dims, strides: strides).map { x.floats[$0] })
  }

  /// `a · b` summed over the labels both have and `keep` lacks, as a batched matmul.
  static func contract(_ a: Operand, _ b: Operand, keeping keep: Set<Int>, size: (Int) -> Int) -> Operand {
    let shared = a.labels.filter { b.labels.contains($0) }
    let batch = shared.filter { keep.contains($0) }
    let summed = shared.filter { !keep.contains($0) }
    let rows = a.labels.filter { !shared.contains($0) }
    let columns = b.labels.filter { !shared.contains($0) }
    let batchCount = batch.map(size).reduce(1, *)
    let m = rows.map(size).reduce(1, *), n = columns.map(size).reduce(1, *), k = summed.map(size).reduce(1, *)
    let left = a.laidOut(batch + rows + summed, (batch + rows + summed).map(size))
    let right = b.laidOut(batch + summed + columns, (batch + summed + columns).map(size))
    var out = [Float](repeating: 0, count: batchCount * m * n)
    left.withUnsafeBufferPointer { lp in
      right.withUnsafeBufferPointer { rp in
        out.withUnsafeMutableBufferPointer { op in
          guard let l = lp.baseAddress, let r = rp.baseAddress, let o = op.baseAddress else { return }
          for p in 0..<batchCount {
            gemm(m: m, n: n, k: k, l + p * m * k, r + p * k * n, into: o + p * m * n)
          }
        }
      }
    }
    let labels = batch + rows + columns
    return Operand(labels: labels, dims: labels.map(size), values: out)
  }
}
