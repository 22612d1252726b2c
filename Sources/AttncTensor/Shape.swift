/// A value's static type: element type and symbolic dims (rank is always known).
public struct TensorType: Hashable, Sendable, CustomStringConvertible {
  public var dtype: DType
  public var dims: [Dim]

  public init(_ dtype: DType, _ dims: [Dim]) {
    self.dtype = dtype
    self.dims = dims
  }

  public var rank: Int { dims.count }

  /// `float32[batch, seq, 768]`.
  public var description: String { "\(dtype)[\(dims.map(\.description).joined(separator: ", "))]" }

  /// The element count as a dim expression.
  public var elementCount: Dim { dims.reduce(Dim(1), *) }

  /// The concrete dims, if none is symbolic.
  public var concreteDims: [Int]? {
    var result: [Int] = []
    for dim in dims {
      guard let v = dim.value else { return nil }
      result.append(v)
    }
    return result
  }

  /// Normalises a possibly negative `axis` against this rank.
  /// - Throws: "axis 5 is out of range for rank 2".
  public func axis(_ axis: Int) throws -> Int { try Shapes.normalize(axis: axis, rank: rank) }
}

/// Shape arithmetic shared by the shape rules.
public enum Shapes {
  /// Maps `axis` in `-rank..<rank` to `0..<rank`.
  /// - Throws: `AttncError` "axis A is out of range for rank R".
  public static func normalize(axis: Int, rank: Int) throws -> Int {
    guard axis >= -rank && axis < rank else {
      throw AttncError.invalid("axis \(axis) is out of range for rank \(rank)")
    }
    return axis < 0 ? axis + rank : axis
  }

  /// Multidirectional (numpy) broadcasting of several shapes.
  ///
  /// Per axis: 1 stretches to the other; equal dims stay; a constant beats a symbol (the symbol
  /// must then be 1 or that constant); two different symbols keep the first that is not a fresh
  /// data-dependent one.
  /// - Throws: "cannot broadcast [2, 3] with [4]" for two different constants.
  public static func broadcast(_ shapes: [[Dim]]) throws -> [Dim] {
    let rank = shapes.map(\.count).max() ?? 0
    var result = [Dim](repeating: 1, count: rank)
    for shape in shapes {
      let offset = rank - shape.count
      for (i, dim) in shape.enumerated() {
        let current = result[offset + i]
        result[offset + i] = try broadcast(current, dim, shapes: shapes)
      }
    }
    return result
  }

  static func broadcast(_ a: Dim, _ b: Dim, shapes: [[Dim]]) throws -> Dim {
    if a == b || b == 1 { return a }
    if a == 1 { return b }
    switch (a.value, b.value) {
    case (let x?, let y?) where x != y:
      let text = shapes.map { "[\($0.map(\.description).joined(separator: ", "))]" }
      throw AttncError.invalid("cannot broadcast \(text.joined(separator: " with "))")
    case (.some, _): return a
    case (_, .some): return b
    default: return a.isDataDependent && !b.isDataDependent ? b : a
    }
  }
}

extension Array where Element == Dim {
  /// `[batch, seq, 768]`.
  public var shapeDescription: String { "[\(map(\.description).joined(separator: ", "))]" }
}
