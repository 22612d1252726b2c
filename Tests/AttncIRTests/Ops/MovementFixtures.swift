import AttncTensor
import Testing

@testable import AttncIR

/// Facts, tensors and table-driven checks shared by the data-movement op tests (Reshape, Slice,
/// Gather, Cast…): each op's tests are tables of `ShapeCase`, `EvalCase` and `ContentCase`.
enum MovementFixtures {
  static let batch = Dim.symbol("batch")
  static let seq = Dim.symbol("seq")
  static let past = Dim.symbol("past")
  /// In an expected shape: any fresh data-dependent dim.
  static let fresh = Dim.symbol("<fresh>")
  /// ONNX's "to the end" position, `INT64_MAX`.
  static let end = Int(Int64.max)

  /// A value of known type and unknown data.
  static func fact(_ dtype: DType, _ dims: [Dim]) -> ValueFact {
    ValueFact(type: TensorType(dtype, dims))
  }

  /// An int64 vector (or scalar) whose elements are known as dims but which is not a constant:
  /// what shape inference knows about `Shape(x)` and arithmetic on it.
  static func content(_ dims: [Dim], scalar: Bool = false, dtype: DType = .int64) -> ValueFact {
    ValueFact(type: TensorType(dtype, scalar ? [] : [Dim(dims.count)]), content: dims)
  }

  /// A constant value.
  static func constant(_ tensor: HostTensor) -> ValueFact {
    ValueFact(type: TensorType(tensor.dtype, tensor.shape.map { Dim($0) }), constant: tensor)
  }

  /// A constant int64 vector, or a scalar.
  static func ints(_ values: [Int], scalar: Bool = false) -> ValueFact {
    constant(int64s(values, scalar ? [] : [values.count]))
  }

  static func int64s(_ values: [Int], _ shape: [Int]) -> HostTensor {
    HostTensor(int64s: values.map { Int64($0) }, shape: shape)
  }

  static func floats(_ values: [Float], _ shape: [Int]) -> HostTensor {
    HostTensor(floats: values, shape: shape)
  }

  static func bools(_ values: [Bool], _ shape: [Int]) -> HostTensor {
    HostTensor(bools: values, shape: shape)
  }

  /// `type` built through the registry, as the importer builds it.
  static func op(_ type: String, _ attributes: [String: AttributeValue], opset: Int) throws
    -> any Op
  {
    try OpRegistry.make(domain: "", type: type, attributes: Attributes(attributes), opset: opset)
  }

  /// What shape inference records for the single output of `op` on `inputs`: type and content.
  static func infer(_ op: any Op, _ inputs: [ValueFact?]) throws -> ValueFact {
    let types = try op.outputTypes(inputs, outputCount: 1)
    let contents = (op as? any ContentPropagating)?.outputContents(inputs, outputTypes: types)
    return ValueFact(type: types[0], content: contents?.first ?? nil)
  }

  /// True when `actual` matches `expected`, where `fresh` stands for any data-dependent dim.
  static func matches(_ actual: [Dim], _ expected: [Dim]) -> Bool {
    actual.count == expected.count
      && zip(actual, expected).allSatisfy { $1 == fresh ? $0.isDataDependent : $0 == $1 }
  }

  /// Equal dtype, shape and elements (NaN equals NaN; strings compared as strings).
  static func same(_ a: HostTensor, _ b: HostTensor) -> Bool {
    guard a.dtype == b.dtype, a.shape == b.shape else { return false }
    if a.dtype == .string { return a.strings == b.strings }
    if a.dtype.isInteger || a.dtype == .bool { return a.int64s() == b.int64s() }
    return zip(a.doubles(), b.doubles()).allSatisfy { $0 == $1 || ($0.isNaN && $1.isNaN) }
  }
}

/// Conformed to by the data-movement test suites, so their case tables read the fixtures
/// unqualified (`fact(.float, [batch, seq, 768])`).
protocol UsesMovementFixtures {}

extension UsesMovementFixtures {
  static var batch: Dim { MovementFixtures.batch }
  static var seq: Dim { MovementFixtures.seq }
  static var past: Dim { MovementFixtures.past }
  static var fresh: Dim { MovementFixtures.fresh }
  static var end: Int { MovementFixtures.end }

  static func fact(_ dtype: DType, _ dims: [Dim]) -> ValueFact {
    MovementFixtures.fact(dtype, dims)
  }

  static func content(_ dims: [Dim], scalar: Bool = false, dtype: DType = .int64) -> ValueFact {
    MovementFixtures.content(dims, scalar: scalar, dtype: dtype)
  }

  static func constant(_ tensor: HostTensor) -> ValueFact { MovementFixtures.constant(tensor) }

  static func ints(_ values: [Int], scalar: Bool = false) -> ValueFact {
    MovementFixtures.ints(values, scalar: scalar)
  }

  static func int64s(_ values: [Int], _ shape: [Int]) -> HostTensor {
    MovementFixtures.int64s(values, shape)
  }

  static func floats(_ values: [Float], _ shape: [Int]) -> HostTensor {
    MovementFixtures.floats(values, shape)
  }

  static func bools(_ values: [Bool], _ shape: [Int]) -> HostTensor {
    MovementFixtures.bools(values, shape)
  }

  // The same, for instance test methods.
  var batch: Dim { Self.batch }
  var seq: Dim { Self.seq }
  var past: Dim { Self.past }

  func fact(_ dtype: DType, _ dims: [Dim]) -> ValueFact { Self.fact(dtype, dims) }

  func content(_ dims: [Dim], scalar: Bool = false, dtype: DType = .int64) -> ValueFact {
    Self.content(dims, scalar: scalar, dtype: dtype)
  }

  func ints(_ values: [Int], scalar: Bool = false) -> ValueFact {
    Self.ints(values, scalar: scalar)
  }
  func int64s(_ values: [Int], _ shape: [Int]) -> HostTensor { Self.int64s(values, shape) }
  func floats(_ values: [Float], _ shape: [Int]) -> HostTensor { Self.floats(values, shape) }
  func bools(_ values: [Bool], _ shape: [Int]) -> HostTensor { Self.bools(values, shape) }
}

/// One shape-rule case: the op's attributes and opset, the input facts, and the expected output
/// types or error.
struct ShapeCase: Sendable, CustomTestStringConvertible {
  enum Expected: Sendable {
    /// Output dims, one list per output (`MovementFixtures.fresh` matches a fresh dim).
    case dims([[Dim]])
    /// Output types.
    case types([TensorType])
    /// An `.invalidModel` error with this message.
    case error(String)
    /// An `.unsupported` error (not knowable from the facts).
    case unsupported
  }

  var name: String
  var attributes: [String: AttributeValue] = [:]
  var opset: Int
  var inputs: [ValueFact?]
  var outputs = 1
  var expected: Expected

  var testDescription: String { name }

  func check(_ type: String) throws {
    let op: any Op
    do {
      op = try MovementFixtures.op(type, attributes, opset: opset)
    } catch let error as AttncError {
      guard case .error(let message) = expected else { throw error }
      #expect(error == AttncError.invalid(message))
      return
    }
    switch expected {
    case .dims(let dims):
      let types = try op.outputTypes(inputs, outputCount: outputs)
      #expect(types.count == dims.count)
      for (type, expected) in zip(types, dims) {
        #expect(
          MovementFixtures.matches(type.dims, expected),
          "\(type.dims.shapeDescription) vs \(expected.shapeDescription)")
      }
    case .types(let expected):
      let types = try op.outputTypes(inputs, outputCount: outputs)
      #expect(types.map(\.dtype) == expected.map(\.dtype))
      for (type, expected) in zip(types, expected) {
        #expect(
          MovementFixtures.matches(type.dims, expected.dims),
          "\(type.dims.shapeDescription) vs \(expected.dims.shapeDescription)")
      }
    case .error(let message):
      #expect(throws: AttncError.invalid(message)) {
        try op.outputTypes(inputs, outputCount: outputs)
      }
    case .unsupported:
      let error = #expect(throws: AttncError.self) {
        try op.outputTypes(inputs, outputCount: outputs)
      }
      #expect(error?.code == .unsupported)
    }
  }
}

/// One evaluation case: constant inputs and the hand-computed outputs.
///
/// It also checks that the shape rule, given the same inputs as constants, predicts the computed
/// dtypes and dims.
struct EvalCase: Sendable, CustomTestStringConvertible {
  var name: String
  var attributes: [String: AttributeValue] = [:]
  var opset: Int
  var inputs: [HostTensor?]
  var expected: [HostTensor]

  var testDescription: String { name }

  func check(_ type: String) throws {
    let op = try MovementFixtures.op(type, attributes, opset: opset)
    // A Constant is its value; every other op folds through its kernel call.
    let results: [HostTensor]
    if let constant = op as? Constant {
      results = [constant.value]
    } else {
      results = try #require(op as? any Lowerable).evaluate(inputs, outputCount: expected.count)
    }
    #expect(results.count == expected.count)
    for (result, expected) in zip(results, expected) {
      #expect(
        MovementFixtures.same(result, expected),
        "\(result) \(values(result)) vs \(values(expected))")
    }
    let facts = inputs.map { $0.map(MovementFixtures.constant) }
    let types = try op.outputTypes(facts, outputCount: expected.count)
    #expect(types == results.map { TensorType($0.dtype, $0.shape.map { Dim($0) }) })
  }

  private func values(_ tensor: HostTensor) -> String {
    tensor.dtype == .string ? "\(tensor.strings)" : "\(tensor.doubles())"
  }
}

/// One content-propagation case: input facts and the expected content of each output.
struct ContentCase: Sendable, CustomTestStringConvertible {
  var name: String
  var attributes: [String: AttributeValue] = [:]
  var opset: Int
  var inputs: [ValueFact?]
  var expected: [Dim]?

  var testDescription: String { name }

  func check(_ type: String) throws {
    let op = try MovementFixtures.op(type, attributes, opset: opset)
    let propagating = try #require(op as? any ContentPropagating)
    let types = try op.outputTypes(inputs, outputCount: 1)
    let contents = propagating.outputContents(inputs, outputTypes: types)
    #expect(contents.first ?? nil == expected)
  }
}
