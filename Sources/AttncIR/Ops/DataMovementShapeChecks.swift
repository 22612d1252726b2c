import AttncTensor

// Checks shared by the data-movement ops' shape rules.

extension ValueFact {
  /// Reads a 1-D integer input that lists dims, indices or sizes (Reshape's `shape`, Tile's
  /// `repeats`, Slice's `starts`…): its length and, when shape inference knows them, its elements.
  /// - Parameters:
  ///   - name: the input's ONNX name, for messages.
  ///   - dtypes: the element types the op accepts.
  /// - Throws: "input 'shape' must be a 1-D tensor, got rank 2"; "input 'shape' must be int64,
  ///   got float32"; `.unsupported` when the length itself is data-dependent (the output rank
  ///   would be unknown).
  /// - Returns: the length, and the elements as dims when all are known.
  func integerVector(_ name: String, dtypes: Set<DType> = [.int64]) throws
    -> (length: Int, content: [Dim]?)
  {
    guard dtypes.contains(dtype) else {
      let allowed = dtypes.map(\.description).sorted().joined(separator: " or ")
      throw AttncError.invalid("input '\(name)' must be \(allowed), got \(dtype)")
    }
    guard rank == 1 else {
      throw AttncError.invalid("input '\(name)' must be a 1-D tensor, got rank \(rank)")
    }
    guard let length = dims[0].value else {
      throw AttncError.unsupported(
        "the output rank depends on data: input '\(name)' has length \(dims[0])")
    }
    if let content, content.count == length { return (length, content) }
    return (length, nil)
  }
}

extension Array where Element == ValueFact? {
  /// The two inputs of Expand and Tile: `x`, and a 1-D integer input listing sizes (`shape`,
  /// `repeats`), read as `integerVector` reads it.
  /// - Throws: "expects 2 inputs, got 3", and `integerVector`'s errors.
  func dataAndSizes(_ name: String) throws -> (x: ValueFact, length: Int, content: [Dim]?) {
    try expectCount(2...2)
    let x = try required(0)
    let (length, content) = try required(1).integerVector(name)
    return (x, length, content)
  }

  /// The two inputs of a gather, `data` and `indices`, the indices of one of `indexTypes`.
  /// - Throws: "expects 2 inputs, got 3"; "indices must be int32 or int64, got float32".
  func gatherOperands(indexTypes: [DType] = [.int32, .int64]) throws -> (data: ValueFact, indices: ValueFact) {
    try expectCount(2...2)
    let data = try required(0)
    let indices = try required(1)
    guard indexTypes.contains(indices.dtype) else {
      let allowed = indexTypes.map(\.description).joined(separator: " or ")
      throw AttncError.invalid("indices must be \(allowed), got \(indices.dtype)")
    }
    return (data, indices)
  }
}
