import AttncKernels
import AttncTensor

/// Elementwise reductions over any number of inputs with numpy broadcasting: `Sum`
/// (`y = x₀ + x₁ + …`), `Max` and `Min` (NaN wins over any number, as numpy's `maximum`).
///
/// All inputs share one element type; `Sum` takes floating-point inputs, `Max`/`Min` any number.
/// Integer evaluation is exact (Sum wraps; uint64 compares unsigned).
public struct Variadic: Op, Evaluable {
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

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let tensors = inputs.compactMap { $0 }
    guard !tensors.isEmpty, tensors.count == inputs.count else {
      throw AttncError.invalid("every input is required")
    }
    let dtype = tensors[0].dtype
    let indexer = try BroadcastIndexer(tensors.map(\.shape))
    let index = indexer.indices()
    if dtype.isInteger {
      let values = tensors.map { $0.int64s() }
      let unsigned = dtype == .uint64
      var out = [Int64](repeating: 0, count: indexer.count)
      for i in out.indices {
        var accumulator = values[0][index[0][i]]
        for k in values.indices.dropFirst() {
          accumulator = combine(accumulator, values[k][index[k][i]], unsigned: unsigned)
        }
        out[i] = accumulator
      }
      return [HostTensor(dtype: dtype, shape: indexer.outputShape, integers: out)]
    }
    guard dtype.isFloatingPoint else {
      throw AttncError.unsupported("\(function.rawValue) on \(dtype) is not evaluated")
    }
    let values = tensors.map { $0.doubles() }
    var out = [Double](repeating: 0, count: indexer.count)
    for i in out.indices {
      var accumulator = values[0][index[0][i]]
      for k in values.indices.dropFirst() {
        accumulator = combine(accumulator, values[k][index[k][i]])
      }
      out[i] = accumulator
    }
    return [HostTensor(dtype: dtype, shape: indexer.outputShape, converting: out)]
  }

  /// Two real elements combined; NaN propagates through `Max`/`Min`.
  func combine(_ a: Double, _ b: Double) -> Double {
    switch function {
    case .sum: return a + b
    case .max: return a.isNaN || b.isNaN ? .nan : Swift.max(a, b)
    case .min: return a.isNaN || b.isNaN ? .nan : Swift.min(a, b)
    }
  }

  /// Two integer elements combined (uint64 held bit for bit in Int64 when `unsigned`).
  func combine(_ a: Int64, _ b: Int64, unsigned: Bool) -> Int64 {
    let less = unsigned ? UInt64(bitPattern: a) < UInt64(bitPattern: b) : a < b
    switch function {
    case .sum: return a &+ b
    case .max: return less ? b : a
    case .min: return less ? a : b
    }
  }
}

extension OpRegistry {
  /// Entries for every `Variadic.Function`.
  static var variadicEntries: [Entry] {
    Variadic.Function.allCases.map { function in
      Entry(function.rawValue, since: 6) { attributes, opset in
        try Variadic(function, attributes: attributes, opset: opset)
      }
    }
  }
}

extension Variadic: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    VariadicCall.names.contains(function.rawValue) ? Lowering(VariadicCall(function.rawValue)) : nil
  }
}

extension Variadic: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
