import AttncTensor

/// `ArgMax` and `TopK`: the position of the largest element along an axis, and the `k` largest
/// (or smallest) elements with their positions. Ties go to the lower index (ArgMax's
/// `select_last_index = 0`, TopK's order by the ONNX definition), or for ArgMax with `selectLast`
/// to the higher one. Integer and float tensors; indices are int64.
public enum Selection {
  /// `(outer, length, inner)` of `shape` around `axis`.
  static func around(_ shape: [Int], _ axis: Int) -> (outer: Int, length: Int, inner: Int) {
    (shape[..<axis].reduce(1, *), shape[axis], shape[(axis + 1)...].reduce(1, *))
  }

  /// Element `i` of a numeric tensor as Double (exact for float32 and for integers below 2⁵³).
  static func reader(_ x: Tensor) -> (Int) -> Double {
    if x.isFloat {
      let values = x.floats
      return { Double(values[$0]) }
    }
    let values = x.ints
    return { Double(values[$0]) }
  }

  /// The index of the largest element along `axis` (a NaN never wins), as int64; the axis kept
  /// as 1 when `keepDims`, else removed.
  /// - Throws: an axis out of range, or an empty axis.
  public static func argMax(_ x: Tensor, axis: Int, keepDims: Bool, selectLast: Bool) throws -> Tensor {
    let axis = try Shapes.normalize(axis: axis, rank: x.rank)
    let (outer, length, inner) = around(x.shape, axis)
    guard length > 0 else { throw AttncError.invalid("ArgMax over axis \(axis) of size 0") }
    let value = reader(x)
    var out = [Int64](repeating: 0, count: outer * inner)
    for o in 0..<outer {
      for i in 0..<inner {
        let base = o * length * inner + i
        var (best, top) = (0, value(base))
        for j in 1..<max(1, length) {
          let v = value(base + j * inner)
          if v > top || (selectLast && v == top) || (top.isNaN && !v.isNaN) { (best, top) = (j, v) }
        }
        out[o * inner + i] = Int64(best)
      }
    }
    var shape = x.shape
    if keepDims { shape[axis] = 1 } else { shape.remove(at: axis) }
    return .int(out, shape)
  }

  /// The `k` largest (`largest`) or smallest elements along `axis` and their indices, in order
  /// (largest first, or smallest first), equal values by the lower index first. `sorted = false`
  /// returns the same order (ONNX leaves it open).
  /// - Throws: an axis out of range, `k` not one integer, negative or above the axis length.
  public static func topK(_ x: Tensor, k count: Tensor, axis: Int, largest: Bool) throws -> [Tensor] {
    guard let first = count.ints.first, count.count == 1 else { throw AttncError.invalid("TopK: k must hold one integer, got shape \(count.shape)") }
    let k = Int(first)
    let axis = try Shapes.normalize(axis: axis, rank: x.rank)
    let (outer, length, inner) = around(x.shape, axis)
    guard k >= 0, k <= length else { throw AttncError.invalid("TopK: k = \(k) is outside 0...\(length) (axis \(axis))") }
    let value = reader(x)
    var indices = [Int64](repeating: 0, count: outer * k * inner)
    var order = [Int](repeating: 0, count: length)
    for o in 0..<outer {
      for i in 0..<inner {
        let base = o * length * inner + i
        for j in 0..<length { order[j] = j }
        order.sort { a, b in
          let (va, vb) = (value(base + a * inner), value(base + b * inner))
          if va == vb || (va.isNaN && vb.isNaN) { return a < b }
          if va.isNaN { return largest }  // NaN ranks above every number
          if vb.isNaN { return !largest }
          return largest ? va > vb : va < vb
        }
        for j in 0..<k { indices[(o * k + j) * inner + i] = Int64(order[j]) }
      }
    }
    var shape = x.shape
    shape[axis] = k
    let positions = (0..<(outer * k * inner)).map { n -> Int in
      let (o, rest) = n.quotientAndRemainder(dividingBy: k * inner)
      return o * length * inner + Int(indices[n]) * inner + rest % inner
    }
    let values: Tensor =
      x.isFloat ? .float(positions.map { x.floats[$0] }, shape, dtype: x.dtype) : .int(positions.map { x.ints[$0] }, shape, dtype: x.dtype)
    return [values, .int(indices, shape)]
  }
}
