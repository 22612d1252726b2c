import AttncTensor

/// One call of a kernel, as a plan instruction holds it: the kernel, its typed parameters, how
/// it uses memory, what it costs, and the code that runs it.
///
/// This is the plan's instruction vocabulary. An IR op lowers to one call (`Lowerable` in
/// `AttncIR`); the plan file stores the call's `name` and `parameters` and the reader turns
/// them back into the same typed value (`KernelCalls.decode`). Encoding and decoding stand
/// side by side in each call type, so the two cannot drift.
///
/// Adding a kernel: one type conforming to `CodableKernelCall` (its stored fields are its
/// parameters, written and read by Codable) or, for an encoding of its own, to `KernelCall`
/// (encode in `parameters`, decode in `init(name:parameters:)`); and its type in `KernelCalls.all`.
/// `XCall` is kernel `X` in the plan unless it lists other `names`, as Codable names a field's
/// key after the property.
public protocol KernelCall: Sendable {
  /// The plan names this type decodes ("Add", "Sub", … for a family); by default one, the
  /// type's name without its `Call` suffix (`TopKCall` decodes "TopK").
  static var names: [String] { get }

  /// Reads a call back from the plan.
  /// - Throws: a missing or mistyped parameter ("kernel parameter 'axis' is missing or not an int").
  init(name: String, parameters: KernelParameters) throws

  /// The kernel's name in the plan ("Softmax", "Add"); by default the first of `names`.
  var name: String { get }

  /// The call's parameters as the plan file stores them.
  var parameters: [String: KernelParameter] { get }

  /// How the call uses memory, for the interpreter's arena plan.
  var memory: KernelMemory { get }

  /// Computes the outputs from the inputs (nil for an omitted optional input).
  func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor]

  /// Whether these inputs always give the same outputs (false for a random draw: constant
  /// folding never evaluates such a call).
  func isDeterministic(_ inputs: [Tensor?]) -> Bool

  /// Whether the outputs depend on the inputs' elements (false for `Shape` and `Size`, which
  /// read only shapes: the interpreter computes what depends on nothing else once per shape).
  var readsInputValues: Bool { get }

  /// What the call costs at concrete shapes: multiply-adds at the GEMM rate and bytes at the
  /// memory rate (`MachineProfile` turns both into seconds).
  func cost(_ shapes: KernelShapes) -> KernelCost
}

extension KernelCall {
  public static var names: [String] {
    let type = String(describing: Self.self)
    return [type.hasSuffix("Call") ? String(type.dropLast(4)) : type]
  }
  public var name: String { Self.names[0] }
  public var parameters: [String: KernelParameter] { [:] }
  public var memory: KernelMemory { .none }
  public func isDeterministic(_ inputs: [Tensor?]) -> Bool { true }
  public var readsInputValues: Bool { true }

  /// Default cost: a memory-bound pass that reads every non-constant input and writes every
  /// output once, four bytes an element.
  public func cost(_ shapes: KernelShapes) -> KernelCost { .streaming(shapes) }

  /// `run`, with each output rounded to its element type (`Tensor.roundedToDType`), so a narrow
  /// float result (float16, bfloat16, float8, float4) holds what the ONNX op would store. The
  /// interpreter, constant folding and the cost model's measurements all call this.
  public func evaluate(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    var results = try run(context, inputs)
    for index in results.indices {
      let dtype = results[index].dtype
      if dtype.isFloatingPoint && dtype != .float && dtype != .double { results[index] = results[index].roundedToDType() }
    }
    return results
  }
}

/// The shapes of one call's operands at a binding of the plan's symbols.
public struct KernelShapes: Sendable {
  /// Each input's dims (nil for an omitted input).
  public var inputs: [[Int]?]
  /// Whether each input is a constant of the plan (weights: read once from cache, not counted
  /// as traffic by the streaming cost).
  public var constantInputs: [Bool]
  /// Each output's dims.
  public var outputs: [[Int]]

  public init(inputs: [[Int]?], constantInputs: [Bool]? = nil, outputs: [[Int]]) {
    self.inputs = inputs
    self.constantInputs = constantInputs ?? inputs.map { _ in false }
    self.outputs = outputs
  }

  /// Elements of input `index` (0 when absent).
  public func inputElements(_ index: Int) -> Double {
    guard index < inputs.count, let dims = inputs[index] else { return 0 }
    return Double(dims.reduce(1, *))
  }

  /// Elements of output `index` (0 when absent).
  public func outputElements(_ index: Int) -> Double {
    index < outputs.count ? Double(outputs[index].reduce(1, *)) : 0
  }
}

/// A call's cost: FLOPs that run at the machine's matrix-product rate, and bytes that move at
/// its memory rate. Attention calls are priced by their variant's formula instead
/// (`isAttention`), which the cost model evaluates per candidate.
public struct KernelCost: Sendable, Equatable {
  /// Multiply-add FLOPs (2 per multiply-add) of the call's matrix products.
  public var flops: Double = 0
  /// Bytes read and written outside the products.
  public var bytes: Double = 0
  /// The call is an attention whose time the policy prices per variant.
  public var isAttention = false
  /// The dominant product's shape `[m, k] × [k, n]` (batch axes folded into m), so the cost
  /// model can take the GEMM rate it measured nearest that shape; nil for other work.
  public var product: ProductShape?

  /// A matrix product's dims.
  public struct ProductShape: Sendable, Equatable {
    public var m: Int
    public var n: Int
    public var k: Int
    /// The operands' precision (the cost model prices bfloat16 products at their own rate).
    public var precision: LinearPrecision = .float32
  }

  /// Every non-constant input read and every output written once, four bytes an element.
  public static func streaming(_ shapes: KernelShapes) -> KernelCost {
    var elements = 0.0
    for index in shapes.inputs.indices where !shapes.constantInputs[index] { elements += shapes.inputElements(index) }
    for index in shapes.outputs.indices { elements += shapes.outputElements(index) }
    return KernelCost(bytes: 4 * elements)
  }

  /// A matrix product `[…, m, k] × [k, n]`: 2·(output elements)·k FLOPs, with `k` the last
  /// dim of input 0.
  public static func product(_ shapes: KernelShapes) -> KernelCost {
    let k = shapes.inputs.first??.last ?? 1
    let n = shapes.outputs.first?.last ?? 1
    let m = n > 0 ? Int(shapes.outputElements(0)) / n : 0
    return KernelCost(flops: 2 * shapes.outputElements(0) * Double(k), product: ProductShape(m: m, n: n, k: k))
  }
}

/// Every kernel call type, and the decoder the plan reader uses.
public enum KernelCalls {
  /// The call types, listed once. A plan naming a kernel no type decodes is refused.
  public static let all: [any KernelCall.Type] = [
    BinaryCall.self, UnaryCall.self, BiasGeluCall.self, IsInfCall.self, VariadicCall.self, WhereCall.self, CastCall.self, ClipCall.self,
    MatMulCall.self, GemmCall.self, FusedMatMulCall.self, PackedMatMulCall.self, EinsumCall.self,
    SoftmaxCall.self, LayerNormalizationCall.self, SkipNormalizationCall.self, BatchNormalizationCall.self, InstanceNormalizationCall.self,
    ReshapeCall.self, ReshapeDynamicCall.self, SqueezeDynamicCall.self, IdentityCall.self, BranchGuardCall.self,
    DimExpressionsCall.self, ShapeCall.self, SizeCall.self, ConstantOfShapeCall.self, RangeCall.self, DropoutCall.self,
    TransposeCall.self, GatherCall.self, GatherNDCall.self, ScatterNDCall.self, ConcatCall.self, ExpandCall.self,
    TileCall.self, PadCall.self, SliceCall.self, SplitCall.self, TriluCall.self, CumSumCall.self, ReduceCall.self, ArgMaxCall.self, TopKCall.self,
    ConvolutionCall.self, PackedConvolutionCall.self, ResizeCall.self,
    FusedAttentionCall.self, AttentionCall.self, RotaryEmbeddingCall.self, LinearAttentionCall.self,
    TokenMergeCall.self, TokenUnmergeCall.self,
    QuantizeLinearCall.self, DequantizeLinearCall.self, DynamicQuantizeLinearCall.self, MatMulIntegerCall.self,
    QLinearMatMulCall.self, MatMulIntegerToFloatCall.self,
    DynamicQuantizeMatMulCall.self, MatMulNBitsCall.self, QuantizedMatMulCall.self,
  ]

  static let byName: [String: any KernelCall.Type] = {
    var table: [String: any KernelCall.Type] = [:]
    for type in all {
      for name in type.names {
        precondition(table[name] == nil, "kernel name '\(name)' is decoded by two call types")
        table[name] = type
      }
    }
    return table
  }()

  /// The call a plan's instruction names.
  /// - Throws: "plan uses unknown kernel 'X'" (a plan from another attnc), or the call's own
  ///   parameter error.
  public static func decode(name: String, parameters: [String: KernelParameter]) throws -> any KernelCall {
    guard let type = byName[name] else { throw AttncError.invalid("plan uses unknown kernel '\(name)'") }
    return try type.init(name: name, parameters: KernelParameters(parameters))
  }

  /// Input `index`, required.
  /// - Throws: "input I is missing".
  static func input(_ inputs: [Tensor?], _ index: Int) throws -> Tensor {
    guard index < inputs.count, let tensor = inputs[index] else {
      throw AttncError.invalid("input \(index) is missing")
    }
    return tensor
  }

  /// Input `index` when given.
  static func optional(_ inputs: [Tensor?], _ index: Int) -> Tensor? { index < inputs.count ? inputs[index] : nil }

  /// Every input from `start` on, each required.
  static func inputs(_ inputs: [Tensor?], from start: Int) throws -> [Tensor] {
    try (start..<max(start, inputs.count)).map { try input(inputs, $0) }
  }
}
