import AttncTensor
import Testing

@testable import AttncIR

/// Facts, tensors and table-driven checks shared by the compute op tests (Unary, Reduce, MatMul,
/// Conv, Attention…): each suite is a table of `ComputeShapeCase` and `ComputeEvalCase`.
enum ComputeFixtures {
  static let batch = Dim.symbol("batch")
  static let seq = Dim.symbol("seq")
  /// In an expected shape: any fresh data-dependent dim.
  static let fresh = Dim.symbol("<fresh>")

  /// A value of known type and unknown data.
  static func fact(_ dtype: DType, _ dims: [Dim]) -> ValueFact {
    ValueFact(type: TensorType(dtype, dims))
  }

  /// A constant value.
  static func constant(_ tensor: HostTensor) -> ValueFact {
    ValueFact(type: TensorType(tensor.dtype, tensor.shape.map { Dim($0) }), constant: tensor)
  }

  /// `type` built through the registry, as the importer builds it.
  static func op(_ type: String, _ attributes: [String: AttributeValue], opset: Int) throws
    -> any Op
  {
    try OpRegistry.make(domain: "", type: type, attributes: Attributes(attributes), opset: opset)
  }

  /// True when `actual` matches `expected`, where `fresh` stands for any data-dependent dim.
  static func matches(_ actual: [Dim], _ expected: [Dim]) -> Bool {
    actual.count == expected.count
      && zip(actual, expected).allSatisfy { $1 == fresh ? $0.isDataDependent : $0 == $1 }
  }

  /// Equal dtype and shape, integers equal, reals within `tolerance` (relative and absolute;
  /// NaN equals NaN, infinities must be equal).
  static func close(_ a: HostTensor, _ b: HostTensor, tolerance: Double) -> Bool {
    guard a.dtype == b.dtype, a.shape == b.shape else { return false }
    if !a.dtype.isFloatingPoint { return a.int64s() == b.int64s() }
    return zip(a.doubles(), b.doubles()).allSatisfy { x, y in
      x == y || (x.isNaN && y.isNaN) || abs(x - y) <= tolerance * max(1, abs(y))
    }
  }
}

/// Conformed to by the compute test suites, so their case tables read the fixtures unqualified.
protocol UsesComputeFixtures {}

extension UsesComputeFixtures {
  static var batch: Dim { ComputeFixtures.batch }
  static var seq: Dim { ComputeFixtures.seq }
  static var fresh: Dim { ComputeFixtures.fresh }

  static func fact(_ dtype: DType, _ dims: [Dim]) -> ValueFact {
    ComputeFixtures.fact(dtype, dims)
  }

  static func constant(_ tensor: HostTensor) -> ValueFact { ComputeFixtures.constant(tensor) }

  /// A constant int64 vector, or a scalar.
  static func ints(_ values: [Int], scalar: Bool = false) -> ValueFact {
    constant(int64s(values, scalar ? [] : [values.count]))
  }

  /// A constant float32 vector, or a scalar.
  static func reals(_ values: [Float], scalar: Bool = false) -> ValueFact {
    constant(floats(values, scalar ? [] : [values.count]))
  }

  static func int64s(_ values: [Int], _ shape: [Int]) -> HostTensor {
    HostTensor(int64s: values.map { Int64($0) }, shape: shape)
  }

  static func floats(_ values: [Float], _ shape: [Int]) -> HostTensor {
    HostTensor(floats: values, shape: shape)
  }

  static func doubles(_ values: [Double], _ shape: [Int]) -> HostTensor {
    HostTensor(doubles: values, shape: shape)
  }

  static func bools(_ values: [Bool], _ shape: [Int]) -> HostTensor {
    HostTensor(bools: values, shape: shape)
  }

  static func typed(_ dtype: DType, _ values: [Int64], _ shape: [Int]) -> HostTensor {
    HostTensor(dtype: dtype, shape: shape, integers: values)
  }

  // The same, for instance test methods.
  var batch: Dim { Self.batch }
  var seq: Dim { Self.seq }
  func fact(_ dtype: DType, _ dims: [Dim]) -> ValueFact { Self.fact(dtype, dims) }
}

/// One shape-rule case: op type, attributes and opset, the input facts, and the expected output
/// dims, types or error.
struct ComputeShapeCase: Sendable, CustomTestStringConvertible {
  enum Expected: Sendable {
    /// Output dims, one list per output checked (`ComputeFixtures.fresh` matches a fresh dim).
    case dims([[Dim]])
    /// Output types, one per output checked.
    case types([TensorType])
    /// An `.invalidModel` error with this message, from the initializer or the shape rule.
    case error(String)
    /// An `.unsupported` error.
    case unsupported
  }

  var name: String
  var type: String
  var attributes: [String: AttributeValue] = [:]
  var opset: Int
  var inputs: [ValueFact?]
  var outputs = 1
  var expected: Expected

  var testDescription: String { "\(type): \(name)" }

  func check() throws {
    let op: any Op
    do {
      op = try ComputeFixtures.op(type, attributes, opset: opset)
    } catch let error as AttncError {
      switch expected {
      case .error(let message): #expect(error == AttncError.invalid(message))
      case .unsupported: #expect(error.code == .unsupported)
      default: throw error
      }
      return
    }
    switch expected {
    case .dims(let dims):
      let types = try op.outputTypes(inputs, outputCount: outputs)
      #expect(types.count >= dims.count)
      for (type, expected) in zip(types, dims) {
        #expect(
          ComputeFixtures.matches(type.dims, expected),
          "\(type.dims.shapeDescription) vs \(expected.shapeDescription)")
      }
    case .types(let expected):
      let types = try op.outputTypes(inputs, outputCount: outputs)
      #expect(types.count >= expected.count)
      for (type, expected) in zip(types, expected) {
        #expect(type.dtype == expected.dtype)
        #expect(
          ComputeFixtures.matches(type.dims, expected.dims),
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

/// One evaluation case: constant inputs and the hand-computed outputs, compared within
/// `tolerance`. It also checks that the shape rule, given the same inputs as constants, predicts
/// the computed types.
struct ComputeEvalCase: Sendable, CustomTestStringConvertible {
  var name: String
  var type: String
  var attributes: [String: AttributeValue] = [:]
  var opset: Int
  var inputs: [HostTensor?]
  var expected: [HostTensor]
  var tolerance = 1e-6

  var testDescription: String { "\(type): \(name)" }

  func check() throws {
    let op = try ComputeFixtures.op(type, attributes, opset: opset)
    let evaluable = try #require(op as? any Lowerable)
    let results = try evaluable.evaluate(inputs, outputCount: expected.count)
    #expect(results.count == expected.count)
    for (result, expected) in zip(results, expected) {
      #expect(
        ComputeFixtures.close(result, expected, tolerance: tolerance),
        "\(result) \(result.doubles()) vs \(expected) \(expected.doubles())")
    }
    let facts = inputs.map { $0.map(ComputeFixtures.constant) }
    let types = try op.outputTypes(facts, outputCount: expected.count)
    #expect(
      Array(types.prefix(results.count))
        == results.map { TensorType($0.dtype, $0.shape.map { Dim($0) }) })
  }
}
