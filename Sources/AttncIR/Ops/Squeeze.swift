import AttncTensor

/// `Squeeze(x, axes?)`: removes size-1 axes — the listed ones, or every constant 1 when `axes` is
/// absent. Axes are an attribute before opset 13 and an input from 13.
public struct Squeeze: Op, Evaluable, ContentPropagating {
  public var axesAttribute: [Int]?
  public var axesFromInput: Bool
  private let fresh = DataDependentDims("squeeze")

  public init(attributes: Attributes, opset: Int) throws {
    axesFromInput = opset >= 13
    axesAttribute = axesFromInput ? nil : try attributes.ints("axes")
  }

  func axes(_ inputs: [ValueFact?]) throws -> [Int]? {
    if !axesFromInput { return axesAttribute }
    guard let fact = inputs.optional(1) else { return nil }
    guard let ints = fact.constantInts else { throw AttncError.unsupported("axes must be a constant") }
    return ints
  }

  func outputDims(_ dims: [Dim], axes: [Int]?) throws -> [Dim] {
    guard let axes else { return dims.filter { $0 != 1 } }
    let normalized = Set(try axes.map { try Shapes.normalize(axis: $0, rank: dims.count) })
    for a in normalized where dims[a].value.map({ $0 != 1 }) ?? false {
      throw AttncError.invalid("cannot squeeze axis \(a) of size \(dims[a])")
    }
    return dims.enumerated().filter { !normalized.contains($0.offset) }.map(\.element)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...2)
    let x = try inputs.required(0)
    if axesFromInput, let given = inputs.optional(1), given.constantInts == nil {
      guard let count = given.dims.first?.value else { throw AttncError.unsupported("axes length unknown") }
      return [TensorType(x.dtype, (0..<(x.rank - count)).map { fresh.dim($0) })]
    }
    return [TensorType(x.dtype, try outputDims(x.dims, axes: try axes(inputs)))]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    var axes = axesAttribute
    if axesFromInput, inputs.count > 1, let a = inputs[1] { axes = a.int64s().map { Int($0) } }
    return [x.reshaped(try concreteDims(try outputDims(x.shape.map { Dim($0) }, axes: axes)))]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }
}
