import AttncKernels
import AttncTensor

/// attnc op: `PackedConvolution(X, P, B?)`: a `Conv` or `ConvTranspose` of one group whose
/// constant weight `W` is stored as the rows of its GEMM's A operand (`P`:
/// `ConvolutionGemm.weightRows`, `[M, C·K]` or transposed `[M·K, C]`, float32 or bfloat16
/// pairs), so the product runs on attnc's packed GEMM with nothing prepared per call but the
/// activations. Produced by `pack-weights`; the original op (kept here) decides the output shape
/// and the padding.
public struct PackedConvolution: Op {
  public static let type = "PackedConvolution"
  public static let domain = "attnc"

  /// The `Conv` or `ConvTranspose` this runs.
  public var convolution: any Lowerable
  public var transposed: Bool
  /// `W`'s ONNX shape.
  public var weightShape: [Int]
  public var precision: LinearPrecision
  /// A `Relu` after the product, applied as each output is stored (`pack-convolution-weights`
  /// takes the convolution's only reader when it is one).
  public var relu: Bool

  public init(convolution: any Lowerable, transposed: Bool, weightShape: [Int], precision: LinearPrecision, relu: Bool = false) {
    (self.convolution, self.transposed, self.weightShape, self.precision) = (convolution, transposed, weightShape, precision)
    self.relu = relu
  }

  /// The original op's input facts: `W`'s type in place of the stored rows.
  func originalInputs(_ inputs: [ValueFact?]) -> [ValueFact?] {
    var facts = inputs
    if facts.count > 1 { facts[1] = ValueFact(type: TensorType(.float, weightShape.map { Dim($0) })) }
    return facts
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let rows = try inputs.required(1)
    let shape = ConvolutionGemm.packedShape(weightShape: weightShape, transposed: transposed, precision: precision)
    guard rows.dtype == .float, rows.dims == shape.map({ Dim($0) }) else {
      throw AttncError.invalid("packed \(precision.rawValue) filter \(rows.type) does not hold weight \(weightShape) (\(shape))")
    }
    return try convolution.outputTypes(originalInputs(inputs), outputCount: outputCount)
  }
}

extension PackedConvolution: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    var original = context
    original.inputs = originalInputs(context.inputs)
    guard let call = try convolution.lower(original)?.call as? ConvolutionCall else { return nil }
    return Lowering(
      PackedConvolutionCall(
        geometry: call.geometry, transposed: transposed, weightShape: weightShape, precision: precision, relu: relu))
  }
}
