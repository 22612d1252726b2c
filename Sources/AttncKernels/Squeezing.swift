import AttncTensor

extension Movement {
  /// ONNX `Squeeze` with axes known only at run time: `x` without the listed size-1 axes, or,
  /// when `axes` is nil, without every size-1 axis. Negative axes count from the end.
  /// - Throws: "axis 3 is out of range for rank 2"; "cannot squeeze axis 1 of size 3";
  ///   "axes [0, -2] repeat an axis".
  public static func squeeze(_ x: Tensor, axes: [Int]?) throws -> Tensor {
    guard let axes else { return x.reshaped(x.shape.filter { $0 != 1 }) }
    let normalized = try normalizedAxes(axes, rank: x.rank)
    for axis in normalized where x.shape[axis] != 1 {
      throw AttncError.invalid("cannot squeeze axis \(axis) of size \(x.shape[axis])")
    }
    return x.reshaped(x.shape.indices.filter { !normalized.contains($0) }.map { x.shape[$0] })
  }

  /// ONNX `Unsqueeze` with axes known only at run time: `x` with a size-1 axis inserted at each
  /// listed position of the output (rank `x.rank + axes.count`; negative positions count from
  /// the output's end).
  /// - Throws: "axis 4 is out of range for rank 3"; "axes [1, -2] repeat an axis".
  public static func unsqueeze(_ x: Tensor, axes: [Int]) throws -> Tensor {
    let rank = x.rank + axes.count
    let inserted = Set(try normalizedAxes(axes, rank: rank))
    var source = x.shape.makeIterator()
    return x.reshaped((0..<rank).map { inserted.contains($0) ? 1 : source.next() ?? 1 })
  }

  /// `axes` normalised against `rank`, refusing repeats.
  private static func normalizedAxes(_ axes: [Int], rank: Int) throws -> [Int] {
    let normalized = try axes.map { try normalizedAxis($0, rank: rank) }
    guard Set(normalized).count == normalized.count else {
      throw AttncError.invalid("axes \(axes) repeat an axis")
    }
    return normalized
  }
}
