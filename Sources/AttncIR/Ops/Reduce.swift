import AttncKernels
import AttncTensor

/// Reductions over a set of axes: `ReduceSum` (`Σ x`), `ReduceMean` (`Σ x / n`), `ReduceMax`
/// (`max x`; on bool, any), `ReduceL1` (`Σ |x|`), `ReduceL2` (`√Σ x²`; torch's `vector_norm`,
/// weight norm) and `ReduceSumSquare` (`Σ x²`). Reduced axes become 1 (`keepdims = 1`, the default) or disappear.
///
/// The axes are an attribute before ReduceSum-13 and ReduceMax/ReduceMean-18, and the optional
/// int64 input 1 from then on. No axes reduce everything, unless `noop_with_empty_axes = 1`
/// (input form only), which makes the op the identity. Over an empty set, Sum, L1, L2 and
/// SumSquare give 0, Mean NaN, Max -inf (the type's lowest value for integers).
public struct Reduce: Op {
  /// The reduction; raw values are the ONNX op types.
  public enum Function: String, Sendable, CaseIterable {
    case max = "ReduceMax", mean = "ReduceMean", sum = "ReduceSum"
    case l1 = "ReduceL1", l2 = "ReduceL2", sumSquare = "ReduceSumSquare"

    /// First opset that reads the axes from input 1.
    var axesInputSince: Int { self == .sum ? 13 : 18 }
  }

  public var function: Function
  public var keepDims: Bool
  public var noopWithEmptyAxes: Bool
  /// Whether the axes come from input 1 (else from `axesAttribute`).
  public var axesFromInput: Bool
  /// The `axes` attribute of the attribute form; nil or empty = every axis.
  public var axesAttribute: [Int]?
  let freshDims: DataDependentDims

  /// A reduction with explicit parameters (`axes` as in the attribute form).
  public init(
    _ function: Function, axes: [Int]? = nil, keepDims: Bool = true,
    noopWithEmptyAxes: Bool = false, axesFromInput: Bool = false
  ) {
    self.function = function
    self.keepDims = keepDims
    self.noopWithEmptyAxes = noopWithEmptyAxes
    self.axesFromInput = axesFromInput
    axesAttribute = axes
    freshDims = DataDependentDims("reduce")
  }

  /// Parses `keepdims`, `noop_with_empty_axes` and, before the input form, `axes`.
  public init(_ function: Function, attributes: Attributes, opset: Int) throws {
    let fromInput = opset >= function.axesInputSince
    let axes = fromInput ? nil : try attributes.ints("axes")
    let noop = try attributes.int("noop_with_empty_axes", default: 0) != 0
    self.init(
      function, axes: axes, keepDims: try attributes.int("keepdims", default: 1) != 0,
      noopWithEmptyAxes: fromInput && noop, axesFromInput: fromInput)
  }

  /// The axes to reduce, normalised and sorted: nil when unknown statically, `[]` for identity.
  /// - Throws: "axis 5 is out of range for rank 2", "axis 1 appears twice".
  public func axes(rank: Int, _ inputs: [ValueFact?]) throws -> [Int]? {
    var raw: [Int]
    if axesFromInput, let axesInput = inputs.optional(1) {
      guard axesInput.dtype == .int64 || axesInput.dtype == .int32, axesInput.rank <= 1 else {
        throw AttncError.invalid("input 'axes' must be an int64 vector, got \(axesInput.type)")
      }
      guard let known = axesInput.constantInts else { return nil }
      raw = known
    } else {
      raw = axesAttribute ?? []
    }
    if raw.isEmpty { return noopWithEmptyAxes ? [] : Array(0..<rank) }
    var seen = Set<Int>()
    for axis in raw {
      let normalized = try Shapes.normalize(axis: axis, rank: rank)
      guard seen.insert(normalized).inserted else {
        throw AttncError.invalid("axis \(axis) appears twice")
      }
    }
    return seen.sorted()
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(axesFromInput ? 1...2 : 1...1)
    let x = try inputs.required(0)
    if function == .max && x.dtype == .bool {
      // ReduceMax-20 accepts bool.
    } else {
      try x.expectNumeric("data")
    }
    guard let axes = try axes(rank: x.rank, inputs) else {
      return [TensorType(x.dtype, try unknownAxesDims(x, inputs))]
    }
    var dims: [Dim] = []
    for (axis, dim) in x.dims.enumerated() {
      if !axes.contains(axis) {
        dims.append(dim)
      } else if keepDims {
        dims.append(1)
      }
    }
    return [TensorType(x.dtype, dims)]
  }

  /// Output dims when the axes input is not a constant: fresh dims, the rank exact.
  /// - Throws: `.unsupported` when `keepdims = 0` and the number of axes is unknown.
  func unknownAxesDims(_ x: ValueFact, _ inputs: [ValueFact?]) throws -> [Dim] {
    if keepDims { return (0..<x.rank).map { freshDims.dim($0) } }
    let count = inputs.optional(1).flatMap { $0.rank == 0 ? 1 : $0.dims[0].value }
    guard let count, count > 0 else {
      throw AttncError.unsupported(
        "\(function.rawValue) with keepdims=0 needs a constant axes input or one of known length")
    }
    guard count <= x.rank else {
      throw AttncError.invalid("\(count) axes given for rank \(x.rank)")
    }
    return (0..<(x.rank - count)).map { freshDims.dim($0) }
  }

}

extension OpRegistry {
  /// Entries for every `Reduce.Function`.
  static var reduceEntries: [Entry] { Entry.family { try Reduce($0, attributes: $1, opset: $2) } }
}

extension Reduce: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard ReduceCall.names.contains(function.rawValue) else { return nil }
    return Lowering(ReduceCall(function.rawValue, axes: axesAttribute, keepDims: keepDims, noopWithEmptyAxes: noopWithEmptyAxes))
  }
}

extension Reduce: Tokenwise {
  /// Per token when the token axis is not reduced (a norm spelled out as `ReduceMean` over the
  /// feature axis); the axis moves left by the reduced axes before it when they are dropped.
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    guard reads.count == 1, reads[0].position == 0, let x = context.inputs[0] else {
      return .notPerToken("\(function.rawValue) reads a merged value as its axes")
    }
    guard let axes = try? axes(rank: x.rank, context.inputs) else {
      return .notPerToken("\(function.rawValue) over axes not known at conversion")
    }
    let token = reads[0].axis
    guard !axes.contains(token) else { return .notPerToken("\(function.rawValue) over the token axis") }
    return .perToken([keepDims ? token : token - axes.filter { $0 < token }.count])
  }
}

extension Reduce: ONNXExpressible {
  /// As read, except that a node read before its axes became an input (ReduceSum-13, the others
  /// 18) and written at or after that opset takes its `axes` attribute as input 1.
  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    guard !axesFromInput, b.opset >= function.axesInputSince else { return b.nodes.append(try node.passedThrough()) }
    let axes = (axesAttribute ?? []).isEmpty ? [] : [b.ints(axesAttribute ?? [], "axes")]
    b.nodes.append(try node.passedThrough(dropping: ["axes"], inputs: [node.inputs[0]] + axes))
  }
}
