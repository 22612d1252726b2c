import AttncTensor

/// `ConstantOfShape(shape)`: a tensor of dims `shape` filled with `value` (a one-element tensor,
/// default float32 0).
public struct ConstantOfShape: Op, Evaluable, ContentPropagating {
  public var value: HostTensor
  private let fresh = DataDependentDims("constantofshape")

  public init(attributes: Attributes, opset: Int) throws {
    value = try attributes.tensor("value") ?? HostTensor(floats: [0], shape: [1])
    guard value.count == 1 else { throw AttncError.invalid("'value' must hold one element") }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let shape = try inputs.required(0)
    guard shape.rank == 1 else { throw AttncError.invalid("shape must be a 1-D tensor, got rank \(shape.rank)") }
    guard let length = shape.dims[0].value else {
      throw AttncError.unsupported("the output rank depends on data (shape has length \(shape.dims[0]))")
    }
    if let content = shape.content {
      if let bad = content.first(where: { ($0.value ?? 0) < 0 }) {
        throw AttncError.invalid("shape entry \(bad) is negative")
      }
      return [TensorType(value.dtype, content)]
    }
    return [TensorType(value.dtype, (0..<length).map { fresh.dim($0) })]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let shape = try required(inputs, 0).int64s().map { Int($0) }
    let count = try HostTensor.elementCount(shape)
    return [ElementPicking.pick(value, shape: shape, elements: [Int](repeating: 0, count: count))]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let type = outputTypes.first, type.rank <= 1, value.dtype.isInteger,
      let v = value.scalarInt, let n = type.rank == 0 ? 1 : type.dims[0].value
    else { return [nil] }
    return [[Dim](repeating: Dim(Int(v)), count: n)]
  }
}
