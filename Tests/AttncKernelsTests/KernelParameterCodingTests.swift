import AttncKernels
import AttncTensor
import Testing

/// Codable kernel calls: a call's fields become the plan's parameters (renamed by `CodingKeys`,
/// the kernel's name kept out, nested option structs flattened, nil optionals left out) and read
/// back into the same call.
@Suite struct KernelParameterCodingTests {
  /// Calls of every field kind: Int, Bool, Float, Double, String, DType, [Int], [Dim], optional,
  /// String enum, nested struct, and a family whose name is a field.
  static let calls: [any KernelCall] = [
    SoftmaxCall(axis: 1, coerce2D: true),
    GemmCall(alpha: 0.5, beta: 2, transposeA: false, transposeB: true),
    LayerNormalizationCall(rms: true, axis: -1, epsilon: 1e-6),
    ReduceCall("ReduceMean", axes: [0, 2], keepDims: false, noopWithEmptyAxes: false),
    ReduceCall("ReduceSum", axes: nil, keepDims: true, noopWithEmptyAxes: true),
    ShapeCall(start: 1, end: nil),
    DimExpressionsCall(dims: [Dim.symbol("seq") + 1, 4], dtype: .int64, scalar: false),
    CastCall(to: .float16, saturate: false, rounding: .nearest),
    UnaryCall("LeakyRelu", alpha: 0.1),
    UnaryCall("Gelu", tanhApproximation: true),
    AttentionCall(options: .init(qHeads: 4, kvHeads: nil, scale: nil, causal: true, softcap: 0, qkMode: 0)),
    ConvolutionCall(.conv, geometry: ConvolutionGeometry(strides: [2], dilations: [1], padsBegin: [0], group: 1, output: [1, 8, 5])),
  ]

  @Test(arguments: calls.indices)
  func roundTrips(_ index: Int) throws {
    let call = Self.calls[index]
    let decoded = try KernelCalls.decode(name: call.name, parameters: call.parameters)
    #expect(decoded.name == call.name)
    #expect(decoded.parameters == call.parameters)
  }

  @Test func fieldsBecomeNamedParameters() {
    #expect(SoftmaxCall(axis: 1, coerce2D: true).parameters == ["axis": .int(1), "coerce2d": .int(1)])
    #expect(
      ReduceCall("ReduceMax", axes: nil, keepDims: true, noopWithEmptyAxes: false).parameters
        == ["keepdims": .int(1), "noop_with_empty_axes": .int(0)])
    #expect(CastCall(to: .float16).parameters == ["to": .int(10), "saturate": .int(1), "round_mode": .string("up")])
    #expect(
      ConvolutionCall(.conv, geometry: ConvolutionGeometry(strides: [2], dilations: [1], padsBegin: [0], group: 3, output: [1])).parameters
        == ["strides": .ints([2]), "dilations": .ints([1]), "pads_begin": .ints([0]), "group": .int(3), "output": .dims([1])])
    #expect(UnaryCall("Exp").parameters.isEmpty)
  }

  @Test func theFamilyNameIsTheKernelName() throws {
    let call = try KernelCalls.decode(name: "RMSNormalization", parameters: ["axis": .int(-1), "epsilon": .float(1e-5)])
    #expect((call as? LayerNormalizationCall)?.rms == true)
  }

  @Test func aMissingOrMistypedParameterIsRefused() {
    #expect(throws: AttncError.invalid("kernel parameter 'coerce2d' is missing or not an int")) {
      try KernelCalls.decode(name: "Softmax", parameters: ["axis": .int(1)])
    }
    #expect(throws: AttncError.invalid("kernel parameter 'axis' is missing or not an int")) {
      try KernelCalls.decode(name: "Softmax", parameters: ["axis": .float(1), "coerce2d": .int(0)])
    }
    #expect(throws: AttncError.invalid("kernel parameter 'round_mode' has an unknown value 'sideways'")) {
      try KernelCalls.decode(name: "Cast", parameters: ["to": .int(1), "saturate": .int(1), "round_mode": .string("sideways")])
    }
  }

  /// The kernel names a plan may hold are its file format: a renamed call type (`XCall` is
  /// kernel "X" unless it lists its `names`) must not rename a kernel unnoticed.
  @Test func theKernelNamesAreThePlanFormats() {
    let fixed: Set<String> = [
      "Abs", "Add", "And", "ArgMax", "Attention", "BatchNormalization", "BiasGelu", "BranchGuard", "Cast", "Ceil",
      "Clip", "Concat", "ConstantOfShape", "Conv", "ConvInteger", "ConvTranspose", "Cos", "CumSum",
      "DequantizeLinear", "DimExpressions", "Div", "Dropout", "DynamicQuantizeLinear", "DynamicQuantizeMatMul",
      "Einsum", "Equal", "Erf", "Exp", "Expand", "Floor", "FusedAttention", "FusedMatMul", "Gather", "GatherElements",
      "GatherND", "Gelu", "Gemm", "Greater", "GreaterOrEqual", "HardSigmoid", "HardSwish", "Identity", "IsInf",
      "InstanceNormalization", "IsNaN", "LayerNormalization", "LeakyRelu", "Less", "LessOrEqual", "LinearAttention", "Log", "MatMul",
      "MatMulInteger", "MatMulIntegerToFloat", "MatMulNBits", "Max", "Min", "Mish", "Mod", "Mul", "Neg", "Not", "Or",
      "PackedConvolution", "PackedMatMul", "Pad", "Pow", "QLinearConv", "QLinearMatMul", "QuantizeLinear", "QuantizedMatMul",
      "RMSNormalization", "Range", "Reciprocal", "ReduceL1", "ReduceL2", "ReduceMax", "ReduceMean", "ReduceSum", "ReduceSumSquare", "Relu", "Reshape",
      "ReshapeDynamic", "Resize", "RotaryEmbedding", "Round", "ScatterND", "Shape", "Sigmoid", "Sign", "Sin", "Size",
      "SkipLayerNormalization", "SkipSimplifiedLayerNormalization", "Slice", "Softmax", "Softplus", "Split", "Sqrt",
      "SqueezeDynamic", "Sub", "Sum", "Swish", "Tanh", "Tile", "TokenMerge", "TokenUnmerge", "TopK", "Transpose",
      "Trilu", "UnsqueezeDynamic", "Where", "Xor",
    ]
    let all = KernelCalls.all.flatMap { $0.names }
    #expect(all.count == Set(all).count, "a kernel name is decoded by two call types")
    #expect(fixed.subtracting(all).isEmpty, "no longer decoded: \(fixed.subtracting(all).sorted())")
    let unlisted = Set(all).subtracting(fixed)
    #expect(unlisted.isEmpty, "not in this list: \(unlisted.sorted())")
    #expect(TopKCall.names == ["TopK"] && SoftmaxCall(axis: 0, coerce2D: false).name == "Softmax")
  }
}
