import AttncTensor

/// `MatMul` with numpy broadcasting of the batch axes (OpenBLAS for float32).
public struct MatMulCall: CodableKernelCall {
  public init() {}

  public var memory: KernelMemory { .output }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try LinearAlgebra.matmul(KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), output: context.output(0))]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { .product(shapes) }
}

/// `FusedMatMul`: `activation(alpha · A×B + addends…)`, the epilogue applied per output block.
public struct FusedMatMulCall: CodableKernelCall {
  public var alpha: Float
  /// `none`, `gelu`, `gelu_tanh` or `softmax`.
  public var activation: String

  public init(alpha: Float, activation: String) { (self.alpha, self.activation) = (alpha, activation) }

  public var memory: KernelMemory { .output }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try LinearAlgebra.fusedMatMul(
      KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), addends: try KernelCalls.inputs(inputs, from: 2),
      alpha: alpha, activation: activation, output: context.output(0))]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { .product(shapes) }
}

/// The epilogue of attnc's products on packed weights (`PackedMatMul`, `QuantizedMatMul`):
/// `activation(alpha · product + addends)` over `columns` columns.
public struct PackedEpilogue: Sendable, Equatable, Codable {
  public var alpha: Float
  /// `none`, `gelu`, `gelu_tanh` or `relu`.
  public var activation: String
  /// n: the product's last dim.
  public var columns: Int

  public init(alpha: Float, activation: String, columns: Int) {
    (self.alpha, self.activation, self.columns) = (alpha, activation, columns)
  }
}

/// A call on a packed weight: its parameters are one `PackedEpilogue` (encoded and decoded as a
/// `CodableKernelCall`).
public protocol PackedProductCall: CodableKernelCall {
  var epilogue: PackedEpilogue { get }
  init(epilogue: PackedEpilogue)
}

extension PackedProductCall {
  public init(alpha: Float, activation: String, columns: Int) {
    self.init(epilogue: PackedEpilogue(alpha: alpha, activation: activation, columns: columns))
  }

  public var memory: KernelMemory { .output }
}

/// `PackedMatMul`: `FusedMatMul` on a weight packed at conversion into 16-column panels, its
/// operands float32 or rounded to bfloat16 (`LinearPrecision`).
public struct PackedMatMulCall: PackedProductCall {
  public var epilogue: PackedEpilogue
  /// nil: float32 (no parameter, so float32 plans are as before and plans written before
  /// bfloat16 existed read as float32).
  public var precision: LinearPrecision?
  public init(epilogue: PackedEpilogue) { self.epilogue = epilogue }

  public init(alpha: Float, activation: String, columns: Int, precision: LinearPrecision) {
    self.init(alpha: alpha, activation: activation, columns: columns)
    self.precision = precision == .float32 ? nil : precision
  }

  /// The precision the call runs at.
  public var operandPrecision: LinearPrecision { precision ?? .float32 }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try PackedGemm.multiply(
      KernelCalls.input(inputs, 0), packed: KernelCalls.input(inputs, 1), columns: epilogue.columns,
      addends: try KernelCalls.inputs(inputs, from: 2), alpha: epilogue.alpha, activation: epilogue.activation,
      precision: operandPrecision, output: context.output(0))]
  }

  /// 2·m·n·k: the output's elements times twice A's last dim (the packed panels' padding is
  /// not counted), at the rate of the operands' precision.
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    var cost = KernelCost.product(shapes)
    cost.product?.precision = operandPrecision
    return cost
  }
}

/// `Einsum` as a contraction over numbered axis labels.
public struct EinsumCall: KernelCall {
  /// Each input's axis labels, and the output's.
  public var terms: [[Int]]
  public var output: [Int]

  public init(terms: [[Int]], output: [Int]) {
    self.terms = terms
    self.output = output
  }

  public init(name: String, parameters: KernelParameters) throws {
    let labels = try parameters.ints("labels") ?? []
    let ranks = try parameters.ints("ranks") ?? []
    var terms: [[Int]] = []
    var start = 0
    for rank in ranks {
      guard rank >= 0, start + rank <= labels.count else {
        throw AttncError.invalid("kernel parameter 'ranks' does not fit 'labels'")
      }
      terms.append(Array(labels[start..<(start + rank)]))
      start += rank
    }
    self.init(terms: terms, output: try parameters.ints("output") ?? [])
  }

  public var parameters: [String: KernelParameter] {
    ["labels": .ints(terms.joined().map { Int64($0) }), "ranks": .ints(terms.map { Int64($0.count) }),
     "output": .ints(output.map { Int64($0) })]
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try EinsumContraction.evaluate(try KernelCalls.inputs(inputs, from: 0), terms: terms, output: output)]
  }

  /// 2 FLOPs per point of the joint index space of every label (the contraction's loop nest).
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    var extent: [Int: Int] = [:]
    for (term, dims) in zip(terms, shapes.inputs) {
      guard let dims else { continue }
      for (label, size) in zip(term, dims) { extent[label] = max(extent[label] ?? 1, size) }
    }
    let points = extent.values.reduce(1.0) { $0 * Double($1) }
    return KernelCost(flops: 2 * points)
  }
}

/// ONNX `Gemm`: `alpha·op(A)·op(B) + beta·C` with `op` transposing when asked and C
/// broadcasting into the `[m, n]` result. (Canonicalization rewrites Gemm into MatMul and
/// adds; this call runs what is left, and folds constant ones.)
public struct GemmCall: CodableKernelCall {
  public var alpha: Float
  public var beta: Float
  public var transposeA: Bool
  public var transposeB: Bool
  enum CodingKeys: String, CodingKey { case alpha, beta, transposeA = "transA", transposeB = "transB" }

  public init(alpha: Float, beta: Float, transposeA: Bool, transposeB: Bool) {
    self.alpha = alpha
    self.beta = beta
    self.transposeA = transposeA
    self.transposeB = transposeB
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    var a = try KernelCalls.input(inputs, 0), b = try KernelCalls.input(inputs, 1)
    guard a.rank == 2, b.rank == 2, a.isFloat, b.isFloat else {
      throw AttncError.invalid("Gemm takes float matrices, got \(a.shape) and \(b.shape)")
    }
    if transposeA { a = Movement.transpose(a, perm: [1, 0]) }
    if transposeB { b = Movement.transpose(b, perm: [1, 0]) }
    var y = try LinearAlgebra.matmul(a, b)
    if alpha != 1 { y = try Elementwise.binary("Mul", y, .float([alpha], [], dtype: y.dtype)) }
    if let c = KernelCalls.optional(inputs, 2), beta != 0 {
      let scaled = beta == 1 ? c : try Elementwise.binary("Mul", c, .float([beta], [], dtype: c.dtype))
      y = try Elementwise.binary("Add", y, scaled)
    }
    return [y]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { .product(shapes) }
}
