import AttncKernels
import AttncTensor

/// `ConstantOfShape(shape)`: a tensor of dims `shape` filled with `value`.
///
/// `value` is a one-element tensor attribute (default float32 0). A `shape` of known content gives
/// those dims, symbolic ones included (`[batch, seq]`); an empty `shape` gives a scalar; unknown
/// elements give fresh dims. A vector output of known length filled with an integer has a known
/// content.
public struct ConstantOfShape: AttributedOp, ContentPropagating {
  /// The fill value, one element.
  public var value: HostTensor
  private let fresh = DataDependentDims("constantofshape")

  /// Reads `value` (default float32 0).
  /// - Throws: "attribute 'value' must hold one element, got 2".
  public init(attributes: Attributes, opset: Int) throws {
    value = try attributes.tensor("value") ?? HostTensor(floats: [0], shape: [1])
    guard value.count == 1 else {
      throw AttncError.invalid("attribute 'value' must hold one element, got \(value.count)")
    }
  }

  /// Dims from the content of `shape`.
  /// - Throws: "shape entry -2 is negative"; "input 'shape' must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let (length, content) = try inputs.required(0).integerVector("shape")
    guard let content else {
      return [TensorType(value.dtype, (0..<length).map { fresh.dim($0) })]
    }
    if let bad = content.first(where: { ($0.value ?? 0) < 0 }) {
      throw AttncError.invalid("shape entry \(bad) is negative")
    }
    return [TensorType(value.dtype, content)]
  }

  /// `[v, v, …]` for an integer or bool fill of a scalar or vector of known length.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let type = outputTypes.first, type.rank <= 1,
      value.dtype.isInteger || value.dtype == .bool, let v = value.scalarInt,
      let n = type.rank == 0 ? 1 : type.dims[0].value
    else { return [nil] }
    return [[Dim](repeating: Dim(Int(v)), count: n)]
  }
}

extension ConstantOfShape: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    let fill = value.dtype.isFloatingPoint ? (value.scalarDouble ?? 0) : Double(value.scalarInt ?? 0)
    return Lowering(ConstantOfShapeCall(dtype: value.dtype, value: fill))
  }
}
