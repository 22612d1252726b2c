import AttncTensor

/// A view of input 0 under dims known at conversion (symbolic dims resolved per run):
/// `Reshape`, `Flatten`, `Squeeze`, `Unsqueeze` with static output shapes.
public struct ReshapeCall: CodableKernelCall {
  public var dims: [Dim]

  public init(dims: [Dim]) { self.dims = dims }
  public var memory: KernelMemory { .viewOfInput }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    let dims = try context.resolve(dims)
    guard dims.reduce(1, *) == x.count else { throw AttncError.invalid("cannot reshape \(x.shape) into \(dims)") }
    return [x.reshaped(dims)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// `Reshape` to a shape tensor known only at run time (ONNX `0` and `-1` rules).
public struct ReshapeDynamicCall: CodableKernelCall {
  public var allowZero: Bool
  enum CodingKeys: String, CodingKey { case allowZero = "allowzero" }

  public init(allowZero: Bool) { self.allowZero = allowZero }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    let requested = try KernelCalls.input(inputs, 1).ints.map { Int($0) }
    var dims = requested.enumerated().map { i, d in d == 0 && !allowZero && i < x.rank ? x.shape[i] : d }
    if let hole = dims.firstIndex(of: -1) {
      let known = dims.enumerated().filter { $0.offset != hole }.reduce(1) { $0 * $1.element }
      dims[hole] = known == 0 ? 0 : x.count / known
    }
    guard dims.reduce(1, *) == x.count else { throw AttncError.invalid("cannot reshape \(x.shape) into \(requested)") }
    return [x.reshaped(dims)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// `Squeeze` or `Unsqueeze` whose output shape is known only at run time; axes from the
/// attribute (opset < 13) or input 1.
public struct SqueezeDynamicCall: CodableKernelCall {
  public static let names = ["SqueezeDynamic", "UnsqueezeDynamic"]
  public var name: String
  public var axes: [Int]?

  public init(unsqueeze: Bool, axes: [Int]?) {
    name = Self.names[unsqueeze ? 1 : 0]
    self.axes = axes
  }

  public var unsqueeze: Bool { name == "UnsqueezeDynamic" }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let given = KernelCalls.optional(inputs, 1)?.ints.map { Int($0) }
    if unsqueeze {
      guard let axes = axes ?? given else { throw AttncError.invalid("input 1 is missing") }
      return [try Movement.unsqueeze(KernelCalls.input(inputs, 0), axes: axes)]
    }
    return [try Movement.squeeze(KernelCalls.input(inputs, 0), axes: axes ?? given)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// Input 0 unchanged (`Identity`, inference `Dropout`).
public struct IdentityCall: CodableKernelCall {
  public init() {}

  public var memory: KernelMemory { .viewOfInput }
  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] { [try KernelCalls.input(inputs, 0)] }
  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// Passes input 0 through when the bool last input (a graph input: an `If`'s condition) is
/// `expected`; otherwise refuses the run: the plan holds only the branch it was converted for.
public struct BranchGuardCall: CodableKernelCall {
  public var expected: Bool
  /// The graph input the condition is, and the `If` node, for the message.
  public var condition: String
  public var node: String

  public init(expected: Bool, condition: String, node: String) {
    (self.expected, self.condition, self.node) = (expected, condition, node)
  }

  public var memory: KernelMemory { .viewOfInput }

  /// - Throws: "input 'use_cache_branch' is false, but this plan holds only the then_branch of
  ///   node 'optimum::if' (converted with --branch use_cache_branch=true): …".
  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let condition = try KernelCalls.input(inputs, inputs.count - 1)
    guard condition.count == 1 else {
      throw AttncError.invalid("input '\(self.condition)' (the condition of node '\(node)') must hold one element, got shape \(condition.shape)")
    }
    let value = condition.ints[0] != 0
    guard value == expected else {
      throw AttncError.invalid(
        "input '\(self.condition)' is \(value), but this plan holds only the \(expected ? "then" : "else")_branch of node '\(node)' "
          + "(converted with --branch \(self.condition)=\(expected)): convert the model again with --branch \(self.condition)=\(value) for the other branch")
    }
    return [try KernelCalls.input(inputs, 0)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// An integer tensor of dims resolved at run time (shape arithmetic folded at conversion).
public struct DimExpressionsCall: CodableKernelCall {
  public var dims: [Dim]
  public var dtype: DType
  /// Rank 0 (one dim) instead of rank 1.
  public var scalar: Bool

  public init(dims: [Dim], dtype: DType, scalar: Bool) { (self.dims, self.dtype, self.scalar) = (dims, dtype, scalar) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let values = try context.resolve(dims).map { Int64($0) }
    return [.int(values, scalar ? [] : [values.count], dtype: dtype)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// `Shape` of input 0, axes `start..<end` (ONNX clamping).
public struct ShapeCall: CodableKernelCall {
  public var start: Int
  public var end: Int?

  public init(start: Int, end: Int?) {
    self.start = start
    self.end = end
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + x.rank : v, 0), x.rank) }
    let dims = x.shape[clamp(start)..<max(clamp(start), clamp(end ?? x.rank))].map { Int64($0) }
    return [.int(dims, [dims.count])]
  }

  public var readsInputValues: Bool { false }
  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// `Size`: input 0's element count.
public struct SizeCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [.int([Int64(try KernelCalls.input(inputs, 0).count)], [])]
  }

  public var readsInputValues: Bool { false }
  public func cost(_ shapes: KernelShapes) -> KernelCost { KernelCost() }
}

/// `ConstantOfShape`: a tensor of the shape input 0 gives, filled with one value.
public struct ConstantOfShapeCall: KernelCall {
  public var dtype: DType
  /// The fill value (read as an integer for integer dtypes).
  public var value: Double

  public init(dtype: DType, value: Double) { (self.dtype, self.value) = (dtype, value) }

  public init(name: String, parameters: KernelParameters) throws {
    let dtype = try DType(onnx: Int32(try parameters.int("dtype")))
    self.init(dtype: dtype, value: dtype.isFloatingPoint ? Double(try parameters.float("value")) : Double(try parameters.int("value")))
  }

  public var parameters: [String: KernelParameter] {
    ["dtype": .int(Int64(dtype.rawValue)), "value": dtype.isFloatingPoint ? .float(value) : .int(Int64(value))]
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let shape = try KernelCalls.input(inputs, 0).ints.map { Int($0) }
    let n = shape.reduce(1, *)
    if dtype.isFloatingPoint { return [.float([Float](repeating: Float(value), count: n), shape, dtype: dtype)] }
    return [.int([Int64](repeating: Int64(value), count: n), shape, dtype: dtype)]
  }
}

/// `Range(start, limit, delta)`.
public struct RangeCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let start = try KernelCalls.input(inputs, 0), limit = try KernelCalls.input(inputs, 1), delta = try KernelCalls.input(inputs, 2)
    if start.isFloat {
      let s = start.floats[0], l = limit.floats[0], d = delta.floats[0]
      guard d != 0 else { throw AttncError.invalid("delta is 0") }
      let n = max(0, Int(((l - s) / d).rounded(.up)))
      return [.float((0..<n).map { s + Float($0) * d }, [n], dtype: start.dtype)]
    }
    let s = start.ints[0], l = limit.ints[0], d = delta.ints[0]
    guard d != 0 else { throw AttncError.invalid("delta is 0") }
    let n = max(0, Int((Double(l - s) / Double(d)).rounded(.up)))
    return [.int((0..<n).map { s + Int64($0) * d }, [n], dtype: start.dtype)]
  }
}

/// `Dropout` in training mode, or with its mask used: a seeded Mersenne Twister draws the mask.
public struct DropoutCall: CodableKernelCall {
  /// The op's seed; nil draws one per call.
  public var seed: Int?
  public var maskType: DType
  enum CodingKeys: String, CodingKey { case seed, maskType = "mask_dtype" }

  public init(seed: Int?, maskType: DType) {
    self.seed = seed
    self.maskType = maskType
  }

  /// Random only in training mode with a ratio above 0 (inputs 2 and 1).
  public func isDeterministic(_ inputs: [Tensor?]) -> Bool {
    let training = KernelCalls.optional(inputs, 2)?.ints.first.map { $0 != 0 } ?? false
    let ratio = KernelCalls.optional(inputs, 1)?.floats.first ?? 0.5
    return !training || ratio == 0
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let ratio = KernelCalls.optional(inputs, 1)?.floats.first ?? 0.5
    let training = KernelCalls.optional(inputs, 2)?.ints.first.map { $0 != 0 } ?? false
    var random = MersenneTwister(seed: UInt64(truncatingIfNeeded: seed ?? Int.random(in: 0...Int(UInt32.max))))
    let (output, mask) = try Elementwise.dropout(KernelCalls.input(inputs, 0), ratio: ratio, training: training, maskType: maskType, random: &random)
    return Array([output, mask].prefix(max(1, context.outputCount)))
  }
}
