import AttncTensor

/// `Constant`: a tensor stored in the node.
///
/// The tensor is given by exactly one of the attributes `value` (sparse values arrive
/// densified from import), `value_float`, `value_floats`, `value_int`, `value_ints`,
/// `value_string` or `value_strings`. Small integer constants have a content.
public struct Constant: AttributedOp, ContentPropagating {
  /// The constant's data.
  public var value: HostTensor

  static let valueAttributes = [
    "value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints",
    "value_string", "value_strings",
  ]

  /// Builds the tensor from the one value attribute: scalars for the singular forms, vectors for
  /// the plural ones (float32, int64, string).
  /// - Throws: "needs exactly one value attribute, got 2 (value, value_int)".
  public init(attributes: Attributes, opset: Int) throws {
    let present = Constant.valueAttributes.filter { attributes.has($0) }
    guard present.count == 1, let name = present.first else {
      let names = present.isEmpty ? "" : " (\(present.joined(separator: ", ")))"
      throw AttncError.invalid("needs exactly one value attribute, got \(present.count)\(names)")
    }
    switch name {
    case "value_float":
      value = HostTensor(floats: [try attributes.float(name) ?? 0], shape: [])
    case "value_floats":
      let floats = try attributes.floats(name) ?? []
      value = HostTensor(floats: floats, shape: [floats.count])
    case "value_int":
      value = HostTensor(int64s: [Int64(try attributes.int(name) ?? 0)], shape: [])
    case "value_ints":
      let ints = (try attributes.ints(name) ?? []).map { Int64($0) }
      value = HostTensor(int64s: ints, shape: [ints.count])
    case "value_string":
      value = HostTensor(strings: [try attributes.string(name) ?? ""], shape: [])
    case "value_strings":
      let strings = try attributes.strings(name) ?? []
      value = HostTensor(strings: strings, shape: [strings.count])
    default:
      guard let tensor = try attributes.tensor(name) else {
        throw AttncError.invalid("attribute '\(name)' must be a tensor")
      }
      value = tensor
    }
  }

  /// The value's type; Constant has no inputs.
  /// - Throws: "expects 0 inputs, got 1".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(0...0)
    return [TensorType(value.dtype, value.shape.map { Dim($0) })]
  }

  /// The value.
  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] { [value] }

  /// The elements of a small integer value.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [ValueFact.contentOf(value)]
  }
}
