import AttncTensor

/// `Constant`: a tensor given by exactly one of the attributes `value`, `value_float(s)`,
/// `value_int(s)`, `value_string(s)` (sparse values are densified at import).
public struct Constant: Op, Evaluable, ContentPropagating {
  public var value: HostTensor

  public init(attributes: Attributes, opset: Int) throws {
    let present = ["value", "sparse_value", "value_float", "value_floats", "value_int", "value_ints",
                   "value_string", "value_strings"].filter { attributes.has($0) }
    guard present.count == 1, let name = present.first else {
      throw AttncError.invalid("needs exactly one value attribute, got \(present.count)")
    }
    switch name {
    case "value", "sparse_value":
      guard let tensor = try attributes.tensor(name) else { throw AttncError.invalid("'\(name)' is not a tensor") }
      value = tensor
    case "value_float": value = HostTensor(floats: [try attributes.float(name) ?? 0], shape: [])
    case "value_floats":
      let floats = try attributes.floats(name) ?? []
      value = HostTensor(floats: floats, shape: [floats.count])
    case "value_int": value = HostTensor(int64s: [Int64(try attributes.int(name) ?? 0)], shape: [])
    case "value_ints":
      let ints = (try attributes.ints(name) ?? []).map { Int64($0) }
      value = HostTensor(int64s: ints, shape: [ints.count])
    case "value_string": value = HostTensor(strings: [try attributes.string(name) ?? ""], shape: [])
    default:
      let strings = try attributes.strings(name) ?? []
      value = HostTensor(strings: strings, shape: [strings.count])
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    [TensorType(value.dtype, value.shape.map { Dim($0) })]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] { [value] }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [ValueFact.contentOf(value)]
  }
}
