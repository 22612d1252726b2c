import AttncTensor

/// What shape inference knows about one input value: its type, its data if constant, and, for
/// small integer tensors (rank 0 or 1), its elements as dim expressions — how `Shape → Gather →
/// Concat → Reshape` arithmetic folds into symbolic shapes.
public struct ValueFact: Sendable {
  public var type: TensorType
  /// The value's data when it is a known constant.
  public var constant: HostTensor?
  /// Elements of an integer tensor of rank ≤ 1 as dims (constant or symbolic), when known.
  public var content: [Dim]?

  public init(type: TensorType, constant: HostTensor? = nil, content: [Dim]? = nil) {
    self.type = type
    self.constant = constant
    self.content = content ?? ValueFact.contentOf(constant)
  }

  /// Elements of a small constant integer tensor as dims.
  public static func contentOf(_ tensor: HostTensor?) -> [Dim]? {
    guard let tensor, tensor.dtype.isInteger, tensor.rank <= 1, tensor.count <= 64 else {
      return nil
    }
    return tensor.int64s().map { Dim(Int(clamping: $0)) }
  }

  public var dtype: DType { type.dtype }
  public var dims: [Dim] { type.dims }
  public var rank: Int { type.rank }

  /// The content as concrete integers, when every element is a constant.
  public var constantInts: [Int]? {
    if let constant, constant.dtype.isInteger || constant.dtype == .bool {
      return constant.int64s().map { Int(clamping: $0) }
    }
    guard let content else { return nil }
    var result: [Int] = []
    for d in content {
      guard let v = d.value else { return nil }
      result.append(v)
    }
    return result
  }
}

/// Everything attnc knows about one operator, in one place: attributes (parsed with ONNX
/// defaults, per the model's opset), the shape rule, and optionally evaluation and dim propagation.
///
/// Adding an op: one file under `Ops/` whose type is an `AttributedOp` (its initializer
/// `init(attributes: Attributes, opset: Int) throws` parses ONNX defaults and opset-specific
/// semantics), and one entry in `OpRegistry.entries`: `Entry("Softmax", since: 1, Softmax.self)`.
public protocol Op: Sendable {
  /// The output types from the inputs' facts (nil for an omitted optional input); validates arity,
  /// axes, dtypes and broadcastability.
  /// - Throws: `AttncError` whose message states the fact ("axis 5 is out of range for rank 2").
  func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType]
}

/// An op the registry builds from a node's attributes.
public protocol AttributedOp: Op {
  /// Parses the attributes with ONNX's defaults, as `opset` defines them.
  /// - Throws: a missing, mistyped or out-of-range attribute.
  init(attributes: Attributes, opset: Int) throws
}

/// An op with no attributes: any node of its type builds `init()`.
public protocol AttributelessOp: AttributedOp {
  init()
}

extension AttributelessOp {
  public init(attributes: Attributes, opset: Int) throws { self.init() }
}

/// An op of attnc's own, made by passes (never read from ONNX): its node's op type and domain
/// are stated once, on the type, and `Node(name:op:inputs:outputs:)` fills them in.
public protocol NamedOp: Op {
  /// The node's op type ("FusedAttention").
  static var type: String { get }
  /// The node's domain: "attnc".
  static var domain: String { get }
}

extension NamedOp {
  public static var domain: String { "attnc" }
}

/// Ops that propagate small integer contents symbolically (`Shape`, `Gather`, `Concat`, `Add`…).
public protocol ContentPropagating: Op {
  /// Each output's content as dims, or nil where unknown.
  func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?]
}

// MARK: - Helpers for shape rules

extension Array where Element == ValueFact? {
  /// The input at `index`, required.
  /// - Throws: "expects at least N inputs, got M" or "input I is required".
  public func required(_ index: Int) throws -> ValueFact {
    guard index < count else {
      throw AttncError.invalid("expects at least \(index + 1) inputs, got \(count)")
    }
    guard let fact = self[index] else { throw AttncError.invalid("input \(index) is required") }
    return fact
  }

  /// The input at `index` if present.
  public func optional(_ index: Int) -> ValueFact? { index < count ? self[index] : nil }

  /// Throws unless the number of inputs is within `range`.
  public func expectCount(_ range: ClosedRange<Int>) throws {
    guard range.contains(count) else {
      let expected = range.lowerBound == range.upperBound
        ? "\(range.lowerBound)" : "\(range.lowerBound) to \(range.upperBound)"
      throw AttncError.invalid("expects \(expected) inputs, got \(count)")
    }
  }
}
