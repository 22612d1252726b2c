import AttncTensor

/// `Reshape(data, shape)`: same elements, new dims. In `shape`, `0` copies the input's dim at that
/// position (unless `allowzero`, opset 14) and one `-1` takes whatever is left:
/// `elements(data) / product(other dims)`, kept symbolic (`[batch, seq, 768] → [batch, seq, 12, 64]`).
/// Opset 1–4 read `shape` from an attribute.
public struct Reshape: Op, Evaluable, ContentPropagating {
  public var allowZero: Bool
  /// The opset-1 `shape` attribute.
  public var shapeAttribute: [Int]?
  private let fresh = DataDependentDims("reshape")

  public init(attributes: Attributes, opset: Int) throws {
    allowZero = try attributes.int("allowzero", default: 0) != 0
    shapeAttribute = opset < 5 ? try attributes.ints("shape") : nil
  }

  func requested(_ inputs: [ValueFact?]) throws -> (entries: [Dim]?, rank: Int) {
    if let shapeAttribute { return (shapeAttribute.map { Dim($0) }, shapeAttribute.count) }
    let shape = try inputs.required(1)
    guard shape.dtype == .int64 else { throw AttncError.invalid("shape must be int64, got \(shape.dtype)") }
    guard shape.rank == 1 else { throw AttncError.invalid("shape must be a 1-D tensor, got rank \(shape.rank)") }
    guard let rank = shape.dims[0].value else {
      throw AttncError.unsupported("the output rank depends on data (shape has length \(shape.dims[0]))")
    }
    return (shape.content, rank)
  }

  /// Output dims from the input dims and the requested entries.
  func outputDims(_ input: [Dim], entries: [Dim]) throws -> [Dim] {
    var dims: [Dim] = []
    var inferred: Int?
    for (i, entry) in entries.enumerated() {
      if entry == 0 && !allowZero {
        guard i < input.count else { throw AttncError.invalid("shape entry \(i) is 0 but the input has rank \(input.count)") }
        dims.append(input[i])
      } else if entry == -1 {
        guard inferred == nil else { throw AttncError.invalid("shape has more than one -1") }
        inferred = i
        dims.append(1)
      } else {
        if let v = entry.value, v < 0 { throw AttncError.invalid("shape entry \(i) is \(v)") }
        dims.append(entry)
      }
    }
    let total = input.reduce(Dim(1), *)
    if let index = inferred {
      let known = dims.reduce(Dim(1), *)
      if let value = known.value, value == 0 {
        dims[index] = 0
      } else if let quotient = total.divided(by: known) {
        if let t = total.value, let k = known.value, t % k != 0 {
          throw AttncError.invalid("cannot reshape \(input.shapeDescription) (\(t) elements) into \(entries.map(\.description))")
        }
        dims[index] = quotient
      } else {
        dims[index] = fresh.dim(index)
      }
    } else if let t = total.value, let o = dims.reduce(Dim(1), *).value, t != o {
      throw AttncError.invalid("cannot reshape \(input.shapeDescription) (\(t) elements) into \(dims.shapeDescription) (\(o) elements)")
    }
    return dims
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(shapeAttribute == nil ? 2...2 : 1...1)
    let data = try inputs.required(0)
    let (entries, rank) = try requested(inputs)
    guard let entries else {
      return [TensorType(data.dtype, (0..<rank).map { fresh.dim($0) })]
    }
    return [TensorType(data.dtype, try outputDims(data.dims, entries: entries))]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let data = try required(inputs, 0)
    var entries = shapeAttribute ?? []
    if shapeAttribute == nil { entries = try required(inputs, 1).int64s().map { Int($0) } }
    let dims = try outputDims(data.shape.map { Dim($0) }, entries: entries.map { Dim($0) })
    return [data.reshaped(try concreteDims(dims))]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }
}
