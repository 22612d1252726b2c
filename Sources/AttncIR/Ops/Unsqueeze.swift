import AttncTensor

/// `Unsqueeze(x, axes)`: inserts size-1 axes at the listed positions of the output (axes are an
/// attribute before opset 13 and an input from 13).
public struct Unsqueeze: Op, Evaluable, ContentPropagating {
  public var axesAttribute: [Int]?
  public var axesFromInput: Bool
  private let fresh = DataDependentDims("unsqueeze")

  public init(attributes: Attributes, opset: Int) throws {
    axesFromInput = opset >= 13
    axesAttribute = axesFromInput ? nil : try attributes.ints("axes")
  }

  func outputDims(_ dims: [Dim], axes: [Int]) throws -> [Dim] {
    let rank = dims.count + axes.count
    let normalized = try axes.map { try Shapes.normalize(axis: $0, rank: rank) }
    guard Set(normalized).count == normalized.count else {
      throw AttncError.invalid("axes \(axes) repeat an axis")
    }
    var result: [Dim] = []
    var source = dims.makeIterator()
    for axis in 0..<rank {
      if normalized.contains(axis) {
        result.append(1)
      } else if let d = source.next() {
        result.append(d)
      }
    }
    return result
  }

  func axes(_ inputs: [ValueFact?]) throws -> [Int] {
    if !axesFromInput {
      guard let axesAttribute else { throw AttncError.invalid("attribute 'axes' is required") }
      return axesAttribute
    }
    guard let ints = try inputs.required(1).constantInts else {
      throw AttncError.unsupported("axes must be a constant")
    }
    return ints
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...2)
    let x = try inputs.required(0)
    if axesFromInput, let given = inputs.optional(1), given.constantInts == nil {
      guard let count = given.dims.first?.value else { throw AttncError.unsupported("axes length unknown") }
      return [TensorType(x.dtype, (0..<(x.rank + count)).map { fresh.dim($0) })]
    }
    return [TensorType(x.dtype, try outputDims(x.dims, axes: try axes(inputs)))]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let axes = axesFromInput ? try required(inputs, 1).int64s().map { Int($0) } : (axesAttribute ?? [])
    return [x.reshaped(try concreteDims(try outputDims(x.shape.map { Dim($0) }, axes: axes)))]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }
}
