import AttncKernels
import AttncTensor

/// Elementwise reductions over any number of inputs with numpy broadcasting: `Sum`
/// (`y = x₀ + x₁ + …`), `Max` and `Min` (NaN wins over any number, as numpy's `maximum`).
///
/// All inputs share one element type; `Sum` takes floating-point inputs, `Max`/`Min` any number.
/// Integer evaluation is exact (Sum wraps; uint64 compares unsigned).
public struct Variadic: Op {
  /// The combining function; raw values are the ONNX op types.
  public enum Function: String, Sendable, CaseIterable {
    case sum = "Sum"
    case max = "Max"
    case min = "Min"
  }

  public var function: Function

  /// The op computing `function`.
  public init(_ function: Function) { self.function = function }

  /// The registry's initializer; the family has no attributes.
  public init(_ function: Function, attributes: Attributes, opset: Int) throws {
    self.function = function
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    guard !inputs.isEmpty else { throw AttncError.invalid("expects at least 1 input, got 0") }
    var facts: [ValueFact] = []
    for index in inputs.indices { facts.append(try inputs.required(index)) }
    let first = facts[0]
    if function == .sum {
      try first.expectFloatingPoint("data_0")
    } else {
      try first.expectNumeric("data_0")
    }
    for (index, fact) in facts.enumerated().dropFirst() {
      try fact.expectSameType(as: first, "data_\(index)", "data_0")
    }
    return [TensorType(first.dtype, try Shapes.broadcast(facts.map(\.dims)))]
  }

}

extension OpRegistry {
  /// Entries for every `Variadic.Function`.
  static var variadicEntries: [Entry] { Entry.family(since: 6) { try Variadic($0, attributes: $1, opset: $2) } }
}

extension Variadic: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    VariadicCall.names.contains(function.rawValue) ? Lowering(VariadicCall(function.rawValue)) : nil
  }
}

extension Variadic: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
