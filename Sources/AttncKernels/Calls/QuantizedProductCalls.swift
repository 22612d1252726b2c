import AttncTensor

/// ONNX `MatMulInteger`: the exact int32 product (`QuantizedGemm.matMulInteger`).
public struct MatMulIntegerCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try QuantizedGemm.matMulInteger(
      KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), aZero: KernelCalls.optional(inputs, 2),
      bZero: KernelCalls.optional(inputs, 3))]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { .product(shapes) }
}

/// ONNX `QLinearMatMul` (`QuantizedGemm.qlinearMatMul`).
public struct QLinearMatMulCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try (0..<8).map { try KernelCalls.input(inputs, $0) }
    return [try QuantizedGemm.qlinearMatMul(
      x[0], aScale: x[1], aZero: x[2], x[3], bScale: x[4], bZero: x[5], yScale: x[6], yZero: x[7])]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost {
    var shapes = shapes
    shapes.inputs = [shapes.inputs[0]] + shapes.inputs.dropFirst(3)
    return .product(shapes)
  }
}

/// `com.microsoft.MatMulIntegerToFloat`: `(A − a_zero)(B − b_zero) · a_scale · b_scale + bias`,
/// A's scale and zero point one value, B's one value or one per column.
public struct MatMulIntegerToFloatCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let a = try KernelCalls.input(inputs, 0), aScale = try KernelCalls.input(inputs, 2)
    guard aScale.isFloat, aScale.count == 1 else {
      throw AttncError.unsupported("MatMulIntegerToFloat: a_scale \(aScale.shape) is not one value (per-column A scales are not supported)")
    }
    let acc = try QuantizedGemm.matMulInteger(
      a, try KernelCalls.input(inputs, 1), aZero: KernelCalls.optional(inputs, 4), bZero: KernelCalls.optional(inputs, 5))
    return [try QuantizedGemm.scaled(
      acc, aScale: aScale.floats[0], bScale: try KernelCalls.input(inputs, 3), bias: KernelCalls.optional(inputs, 6),
      op: name)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { .product(shapes) }
}

/// `com.microsoft.DynamicQuantizeMatMul`: A (float) quantized as `DynamicQuantizeLinear` does,
/// then `MatMulIntegerToFloat` with B's scale and zero point and the bias.
public struct DynamicQuantizeMatMulCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let quantized = try Quantization.dynamicQuantize(try KernelCalls.input(inputs, 0))
    let acc = try QuantizedGemm.matMulInteger(
      quantized[0], try KernelCalls.input(inputs, 1), aZero: quantized[2], bZero: KernelCalls.optional(inputs, 3))
    return [try QuantizedGemm.scaled(
      acc, aScale: quantized[1].floats[0], bScale: try KernelCalls.input(inputs, 2),
      bias: KernelCalls.optional(inputs, 4), op: name)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { .product(shapes) }
}

/// `com.microsoft.MatMulNBits`: A times the block-quantized weight
/// (`BlockQuantizedWeights.dequantize`), plus the bias.
public struct MatMulNBitsCall: KernelCall {
  public let name = "MatMulNBits"
  public var layout: BlockQuantizedWeights.Layout

  public init(layout: BlockQuantizedWeights.Layout) { self.layout = layout }

  public init(name: String, parameters: KernelParameters) throws {
    self.init(
      layout: .init(
        k: try parameters.int("K"), n: try parameters.int("N"), bits: try parameters.int("bits"),
        blockSize: try parameters.int("block_size")))
  }

  public var parameters: [String: KernelParameter] {
    ["K": .int(Int64(layout.k)), "N": .int(Int64(layout.n)), "bits": .int(Int64(layout.bits)),
     "block_size": .int(Int64(layout.blockSize))]
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let a = try KernelCalls.input(inputs, 0)
    let weight = try BlockQuantizedWeights.dequantize(
      try KernelCalls.input(inputs, 1), scales: try KernelCalls.input(inputs, 2),
      zeroPoints: KernelCalls.optional(inputs, 3), groupIndex: KernelCalls.optional(inputs, 4), layout: layout)
    let bias = KernelCalls.optional(inputs, 5)
    return [try LinearAlgebra.fusedMatMul(
      a, .float(weight, [layout.k, layout.n]), addends: bias.map { [$0] } ?? [], alpha: 1, activation: "none",
      output: context.output(0))]
  }

  public var memory: KernelMemory { .output }

  public func cost(_ shapes: KernelShapes) -> KernelCost {
    let rows = shapes.outputElements(0) / Double(max(1, layout.n))
    return KernelCost(
      flops: 2 * rows * Double(layout.n * layout.k),
      product: .init(m: Int(rows), n: layout.n, k: layout.k))
  }
}

/// attnc's `QuantizedMatMul`: the dynamically quantized linear layer on a weight packed at
/// conversion (`QuantizedGemm.dynamicProduct`), with its fused epilogue.
public struct QuantizedMatMulCall: PackedProductCall {
  public var epilogue: PackedEpilogue
  public init(epilogue: PackedEpilogue) { self.epilogue = epilogue }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let weights = try QuantizedGemm.WeightQuantization(
      scale: try KernelCalls.input(inputs, 2), zero: KernelCalls.optional(inputs, 3), columns: epilogue.columns,
      shift: 0, op: name)
    return [try QuantizedGemm.dynamicProduct(
      KernelCalls.input(inputs, 0), packed: KernelCalls.input(inputs, 1), columns: epilogue.columns, weights: weights,
      addends: try KernelCalls.inputs(inputs, from: 4), alpha: epilogue.alpha, activation: epilogue.activation,
      output: context.output(0))]
  }

  /// 2·m·n·k, counted at the float GEMM rate (the int8 tiles run faster; the cost model does not
  /// know that yet).
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    let k = shapes.inputs.first??.last ?? 1
    let n = epilogue.columns
    let m = shapes.outputElements(0) / Double(max(1, n))
    return KernelCost(flops: 2 * m * Double(n * k), product: .init(m: Int(m), n: n, k: k))
  }
}
