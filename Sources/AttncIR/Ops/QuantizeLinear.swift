import AttncKernels
import AttncTensor

/// `QuantizeLinear(x, y_scale, y_zero_point?)`: `y = saturate(round(x / y_scale) + y_zero_point)`
/// (integer types: rounding half to even, saturating to the type's range; NaN goes to the low end,
/// as ONNX Runtime's kernels give), `y = cast(x / y_scale + y_zero_point)` for the 8- and 4-bit
/// float types (opset 19; `saturate`, default 1, clamps them to the largest finite value).
///
/// Scale and zero point are one value (per tensor), a 1-D tensor along `axis` (per axis, opset
/// 13) or, with `block_size` (opset 21), blocks of that many indices along `axis`. The output type
/// is the zero point's, else `output_dtype` (opset 21), else uint8: int8, uint8, int16, uint16
/// (opset 21), int4, uint4 (21), int2, uint2 (25), float8 (19), float4e2m1 (23). The division runs
/// in `precision` (opset 23) when given, else in float16 / bfloat16 when x and the scale both
/// are, else in float32 (the ONNX reference's numpy promotion). A constant scale that is 0, NaN or
/// infinite is refused: it can only come from a broken file.
public struct QuantizeLinear: AttributedOp {
  public var layout: QuantizationLayout
  public var saturate: Bool
  public var precision: DType?

  public init(attributes: Attributes, opset: Int) throws {
    layout = try QuantizationLayout(attributes: attributes, opset: opset)
    saturate = try attributes.int("saturate", default: 1) != 0
    let precision = try attributes.int("precision", default: 0)
    self.precision = precision == 0 ? nil : try DType(onnx: Int32(clamping: precision))
    if let p = self.precision, !p.isFloatingPoint && p != .int32 {
      throw AttncError.invalid("attribute 'precision' must name a float type, got \(p)")
    }
  }

  /// - Throws: a non-quantized output type, zero point and `output_dtype` that disagree, a
  ///   scale or zero point that does not fit x (`QuantizationCheck`).
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...3)
    let x = try inputs.required(0), scale = try inputs.required(1), zero = inputs.optional(2)
    guard x.dtype.isFloatingPoint || x.dtype == .int32 else {
      throw AttncError.invalid("input 'x' must be a float type or int32, got \(x.dtype)")
    }
    let type = try outputType(zero)
    try layout.check(x: x, scale: scale, zero: zero, dividing: true)
    return [TensorType(type, x.dims)]
  }

  /// The quantized type: the zero point's, else `output_dtype`, else uint8.
  func outputType(_ zero: ValueFact?) throws -> DType {
    let outputDType = layout.outputDType
    if let zero, let outputDType, zero.dtype != outputDType {
      throw AttncError.invalid("y_zero_point is \(zero.dtype) but output_dtype is \(outputDType)")
    }
    let type = zero?.dtype ?? outputDType ?? .uint8
    guard Quantization.isQuantizedType(type) else {
      throw AttncError.invalid("\(type) is not a quantized type (int8, uint8, int16, uint16, int4, uint4, int2, uint2, float8, float4)")
    }
    return type
  }
}

extension QuantizeLinear: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let x = context.inputs.first ?? nil, let scale = context.inputs.count > 1 ? context.inputs[1] : nil else {
      return nil
    }
    let narrow = x.dtype == scale.dtype && NarrowFloatArithmetic(x.dtype) != nil ? x.dtype : nil
    return Lowering(
      QuantizeLinearCall(
        axis: layout.axis, blockSize: layout.blockSize, to: try outputType(context.inputs.count > 2 ? context.inputs[2] : nil),
        saturate: saturate, precision: precision ?? narrow))
  }
}

/// What `QuantizeLinear` and `DequantizeLinear` both read from their attributes: where the
/// scale and zero point apply (`axis`, `block_size` from opset 21), the stored type
/// (`output_dtype`, 0 = none), and the model's opset, which decides the forms allowed.
public struct QuantizationLayout: Sendable {
  public var axis: Int
  public var blockSize: Int
  public var outputDType: DType?
  public var opset: Int

  /// - Throws: a negative `block_size`, an `output_dtype` that names no type.
  init(attributes: Attributes, opset: Int) throws {
    self.opset = opset
    axis = try attributes.int("axis", default: 1)
    blockSize = opset >= 21 ? try attributes.int("block_size", default: 0) : 0
    let output = try attributes.int("output_dtype", default: 0)
    outputDType = output == 0 ? nil : try DType(onnx: Int32(clamping: output))
    guard blockSize >= 0 else { throw AttncError.invalid("attribute 'block_size' must not be negative, got \(blockSize)") }
  }

  /// Throws unless the scale and zero point fit x (`QuantizationCheck.parameters`) and a
  /// constant scale is finite (and, where it divides, not 0).
  func check(x: ValueFact, scale: ValueFact, zero: ValueFact?, dividing: Bool) throws {
    try QuantizationCheck.parameters(x: x, scale: scale, zero: zero, axis: axis, blockSize: blockSize, opset: opset)
    try QuantizationCheck.constantScale(scale, dividing: dividing)
  }
}

/// Shape and value checks shared by the quantization ops.
enum QuantizationCheck {
  /// Throws unless the scale and zero point fit x: one value (any opset), 1-D along `axis`
  /// (opset 13), or blocked (`blockSize` > 0, the scale of x's rank); the zero point of the
  /// scale's shape. Dims that are not known yet are not checked.
  /// - Throws: "y_scale [3] is neither a scalar nor a 1-D tensor of x [2, 4]'s 4 elements along
  ///   axis 1", "y_zero_point [2] and y_scale [3] differ in shape", "per-axis scales need opset
  ///   13, the model has 10".
  static func parameters(
    x: ValueFact, scale: ValueFact, zero: ValueFact?, axis: Int, blockSize: Int, opset: Int
  ) throws {
    if let zero, zero.dims != scale.dims, !(zero.dims.isEmpty && scale.dims == [Dim(1)]),
      !(scale.dims.isEmpty && zero.dims == [Dim(1)])
    {
      throw AttncError.invalid(
        "zero point \(zero.dims.shapeDescription) and scale \(scale.dims.shapeDescription) differ in shape")
    }
    guard scale.dtype.isFloatingPoint || scale.dtype == .int32 else {
      throw AttncError.invalid("the scale must be a float type, got \(scale.dtype)")
    }
    let perTensor = scale.rank == 0 || scale.dims == [Dim(1)]
    if !perTensor && opset < 13 {
      throw AttncError.invalid("a scale of shape \(scale.dims.shapeDescription) needs opset 13 (per axis); the model has \(opset)")
    }
    if blockSize == 0 && scale.rank > 1 {
      throw AttncError.invalid("a scale of rank \(scale.rank) needs block_size (opset 21)")
    }
    guard let shape = x.type.concreteDims, let scaleShape = scale.type.concreteDims else { return }
    _ = try Quantization.Granularity(shape: shape, scaleShape: scaleShape, axis: axis, blockSize: blockSize)
  }

  /// Throws when a constant scale holds NaN, an infinity or, where it divides, 0.
  /// - Throws: "the scale holds 0 at index 2: quantizing divides by it".
  static func constantScale(_ scale: ValueFact, dividing: Bool) throws {
    guard let constant = scale.constant, constant.dtype.isFloatingPoint else { return }
    for (index, value) in constant.doubles().enumerated() {
      if !value.isFinite {
        throw AttncError.invalid("the scale holds \(value) at index \(index)")
      }
      if dividing && value == 0 {
        throw AttncError.invalid("the scale holds 0 at index \(index): quantizing divides by it")
      }
    }
  }
}
