import AttncTensor

/// Index arithmetic for numpy-style broadcasting over concrete shapes, used by evaluators.
public struct BroadcastIndexer {
  public let outputShape: [Int]
  private let strides: [[Int]]

  /// Indexes each of `shapes` (right-aligned, size-1 axes stretched) from output positions.
  public init(_ shapes: [[Int]]) throws {
    let rank = shapes.map(\.count).max() ?? 0
    var out = [Int](repeating: 1, count: rank)
    for shape in shapes {
      for (i, d) in shape.enumerated() {
        let j = rank - shape.count + i
        if out[j] == 1 {
          out[j] = d
        } else if d != 1 && d != out[j] {
          throw AttncError.invalid("cannot broadcast \(shapes.map { "\($0)" }.joined(separator: " with "))")
        }
      }
    }
    outputShape = out
    strides = shapes.map { shape in
      var result = [Int](repeating: 0, count: rank)
      var step = 1
      for i in Swift.stride(from: shape.count - 1, through: 0, by: -1) {
        result[rank - shape.count + i] = shape[i] == 1 ? 0 : step
        step *= shape[i]
      }
      return result
    }
  }

  public var count: Int { outputShape.reduce(1, *) }

  /// For every output element in row-major order, the flat index into each input.
  public func indices() -> [[Int]] {
    let n = count
    var result = strides.map { _ in [Int](repeating: 0, count: n) }
    var position = [Int](repeating: 0, count: outputShape.count)
    var offsets = [Int](repeating: 0, count: strides.count)
    for flat in 0..<n {
      for k in strides.indices { result[k][flat] = offsets[k] }
      var axis = outputShape.count - 1
      while axis >= 0 {
        position[axis] += 1
        for k in strides.indices { offsets[k] += strides[k][axis] }
        if position[axis] < outputShape[axis] { break }
        for k in strides.indices { offsets[k] -= strides[k][axis] * position[axis] }
        position[axis] = 0
        axis -= 1
      }
    }
    return result
  }
}
