import AttncTensor

extension Movement {
  /// How `ScatterND` combines an update with the element it lands on.
  public enum ScatterReduction: String, Sendable, CaseIterable, Codable, KernelParameterValue {
    case none, add, mul, max, min

    func combine<T: Comparable & Numeric>(_ old: T, _ new: T) -> T {
      switch self {
      case .none: new
      case .add: old + new
      case .mul: old * new
      case .max: Swift.max(old, new)
      case .min: Swift.min(old, new)
      }
    }
  }

  /// `ScatterND`: a copy of `data` whose slices at the index tuples of `indices` (last axis q,
  /// into the first q axes of `data`, negative indices counted from the end) take `updates`
  /// (dims `indices[..<(rank - 1)] + data[q...]`), combined by `reduction`. Tuples apply in
  /// order, so with `none` the last of a repeated index wins.
  /// - Throws: "index 5 is out of range for axis 1 of size 4"; "updates has 6 elements, expected 8".
  public static func scatterND(_ data: Tensor, _ indices: Tensor, _ updates: Tensor, reduction: ScatterReduction) throws -> Tensor {
    guard let q = indices.shape.last, q <= data.rank else {
      throw AttncError.invalid("indices must have rank 1 or more and address at most \(data.rank) axes")
    }
    let strides = rowMajorStrides(data.shape)
    let inner = data.shape[q...].reduce(1, *)
    let tuples = q == 0 ? indices.count : indices.count / q
    guard updates.count == tuples * inner else {
      throw AttncError.invalid("updates has \(updates.count) elements, expected \(tuples * inner)")
    }
    var offsets: [Int] = []
    offsets.reserveCapacity(tuples)
    for t in 0..<tuples {
      var flat = 0
      for k in 0..<q {
        var i = Int(indices.ints[t * q + k])
        let d = data.shape[k]
        if i < 0 { i += d }
        guard i >= 0 && i < d else {
          throw AttncError.invalid("index \(indices.ints[t * q + k]) is out of range for axis \(k) of size \(d)")
        }
        flat += i * strides[k]
      }
      offsets.append(flat)
    }
    var out = data
    if data.isFloat {
      var values = data.floats.owned
      let source = updates.floats
      for (t, base) in offsets.enumerated() {
        for e in 0..<inner { values[base + e] = reduction.combine(values[base + e], source[t * inner + e]) }
      }
      out.floats = FloatBuffer(values)
    } else if data.dtype == .string {
      for (t, base) in offsets.enumerated() {
        for e in 0..<inner { out.strings[base + e] = updates.strings[t * inner + e] }
      }
    } else {
      for (t, base) in offsets.enumerated() {
        for e in 0..<inner { out.ints[base + e] = reduction.combine(out.ints[base + e], updates.ints[t * inner + e]) }
      }
    }
    return out
  }
}
