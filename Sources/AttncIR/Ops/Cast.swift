import AttncTensor

/// `Cast(x)` to the `to` dtype, and `CastLike(x, like)` to `like`'s dtype. Floats to integers
/// truncate toward zero; to float8 formats round to nearest even and saturate when `saturate`
/// is 1 (the default). Integer contents (shape vectors) pass through symbolically.
public struct Cast: Op, Evaluable, ContentPropagating {
  /// Target dtype; nil for CastLike (taken from the second input).
  public var target: DType?
  public var saturate: Bool

  public init(attributes: Attributes, opset: Int) throws {
    guard let to = try attributes.int("to") else { throw AttncError.invalid("attribute 'to' is required") }
    target = try DType(onnx: Int32(clamping: to))
    saturate = try attributes.int("saturate", default: 1) != 0
  }

  /// CastLike: the target comes from input 1.
  public init(castLikeAttributes attributes: Attributes, opset: Int) throws {
    target = nil
    saturate = try attributes.int("saturate", default: 1) != 0
  }

  func targetType(_ inputs: [ValueFact?]) throws -> DType {
    if let target { return target }
    return try inputs.required(1).dtype
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(target == nil ? 2...2 : 1...1)
    let x = try inputs.required(0)
    return [TensorType(try targetType(inputs), x.dims)]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let to = try target ?? required(inputs, 1).dtype
    if x.dtype == to { return [x] }
    if x.dtype == .string || to == .string { throw AttncError.unsupported("string casts are not folded") }
    if !saturate && [.float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz].contains(to) {
      throw AttncError.unsupported("non-saturating float8 casts are not folded")
    }
    if to == .float8e8m0 || x.dtype == .complex64 || x.dtype == .complex128 {
      throw AttncError.unsupported("cast to \(to) is not folded")
    }
    if (x.dtype.isInteger || x.dtype == .bool) && (to.isInteger || to == .bool) {
      return [HostTensor(dtype: to, shape: x.shape, integers: x.int64s())]
    }
    if to.isInteger { return [HostTensor(dtype: to, shape: x.shape, integers: x.int64s())] }
    return [HostTensor(dtype: to, shape: x.shape, converting: x.doubles())]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, x.dtype.isInteger, outputTypes.first?.dtype.isInteger == true
    else { return [nil] }
    return [x.content]
  }
}
