import AttncKernels
import AttncTensor

/// `Concat(x0, x1, …)` along `axis`.
///
/// Every input has the same dtype and rank and the same dims
/// off the axis; on the axis the dims add (`[batch, past, 64] ++ [batch, seq, 64]` is
/// `[batch, past + seq, 64]`). Concatenated vectors concatenate their contents, which is how
/// exporters assemble shapes (`Concat(Unsqueeze(batch), Unsqueeze(seq), [12], [64])`).
public struct Concat: AttributedOp, ContentPropagating {
  /// The `axis` attribute: required from opset 4 (default 1 before), negative from opset 11.
  public var axis: Int

  /// Reads `axis`.
  /// - Throws: "attribute 'axis' is required" from opset 4.
  public init(attributes: Attributes, opset: Int) throws {
    guard let axis = try attributes.int("axis") ?? (opset < 4 ? 1 : nil) else {
      throw AttncError.invalid("attribute 'axis' is required")
    }
    self.axis = axis
  }

  /// The common dims with the axis dims summed.
  /// - Throws: "axis 3 is out of range for rank 2"; "input 1 has type int32 but input 0 has
  ///   int64"; "input 1 has rank 2 but input 0 has rank 3"; "dims on axis 0 of inputs 0 and 1
  ///   differ: 2 and 3".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    guard !inputs.isEmpty else { throw AttncError.invalid("expects at least 1 input, got 0") }
    let facts = try inputs.indices.map { try inputs.required($0) }
    let first = facts[0]
    let a = try first.type.axis(axis)
    var dims = first.dims
    for (k, fact) in facts.enumerated().dropFirst() {
      guard fact.dtype == first.dtype else {
        throw AttncError.invalid("input \(k) has type \(fact.dtype) but input 0 has \(first.dtype)")
      }
      guard fact.rank == first.rank else {
        throw AttncError.invalid(
          "input \(k) has rank \(fact.rank) but input 0 has rank \(first.rank)")
      }
      for i in 0..<dims.count where i != a {
        dims[i] = try DimCheck.unify(
          dims[i], fact.dims[i], "dims on axis \(i) of inputs 0 and \(k)")
      }
      dims[a] = dims[a] + fact.dims[a]
    }
    return [TensorType(first.dtype, dims)]
  }

  /// The inputs' contents one after the other, when every input is a vector of known content.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    var result: [Dim] = []
    for input in inputs {
      guard let input, input.rank == 1, let content = input.content else { return [nil] }
      result += content
    }
    return [result]
  }
}

extension Concat: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(ConcatCall(axis: axis)) }
}

extension Concat: Bypassable {
  /// A Concat of one input is a copy of it (the exporters' `torch.cat` of a cache with an empty
  /// start, a whole KV cache copied per step).
  public func isNoOp(_ context: NodeContext) -> Bool { context.inputs.count == 1 && outputTypeIsInputType(context) }
}
