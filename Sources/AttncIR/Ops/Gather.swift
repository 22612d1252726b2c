import AttncKernels
import AttncTensor

/// `Gather(data, indices)` on `axis`: `out[i…, j…, k…] = data[i…, indices[j…], k…]`.
///
/// The output dims are `data[..<axis] + indices + data[(axis + 1)...]`; negative indices count from
/// the end.
///
/// Gathering constant indices from a vector of known content picks the content's dims — with a
/// scalar index the output is a scalar holding one dim, which is how exporters read `seq` out of
/// `Shape(x)`.
public struct Gather: AttributedOp, ContentPropagating {
  /// The `axis` attribute (default 0).
  public var axis: Int

  /// Reads `axis`.
  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
  }

  /// `data[..<axis] + indices + data[(axis + 1)...]`.
  /// - Throws: "axis 2 is out of range for rank 2"; "indices must be int32 or int64, got float32";
  ///   "index 5 is out of range for axis 0 of size 3" (constant indices only).
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (data, indices) = try inputs.gatherOperands()
    let a = try data.type.axis(axis)
    if let d = data.dims[a].value, let ints = indices.constantInts,
      let bad = ints.first(where: { $0 < -d || $0 >= d })
    {
      throw AttncError.invalid("index \(bad) is out of range for axis \(a) of size \(d)")
    }
    let dims = Array(data.dims[..<a]) + indices.dims + Array(data.dims[(a + 1)...])
    return [TensorType(data.dtype, dims)]
  }

  /// The picked dims, when `data` is a vector of known content and the indices are constants.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let data = inputs.first ?? nil, data.rank == 1, let content = data.content,
      let indices = inputs.optional(1), indices.rank <= 1, let ints = indices.constantInts
    else { return [nil] }
    var result: [Dim] = []
    for raw in ints {
      let i = raw < 0 ? raw + content.count : raw
      guard i >= 0 && i < content.count else { return [nil] }
      result.append(content[i])
    }
    return [result]
  }
}

extension Gather: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(GatherCall(axis: axis)) }
}

extension Gather: Tokenwise {
  /// Reading token 0 (the class token, never merged) leaves the merged tokens; any other gather
  /// along the token axis is not per token.
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let rank = context.inputs[reads[0].position]?.rank ?? 0
    let at = axis < 0 ? axis + rank : axis
    if reads.count == 1, reads[0].position == 0, at == reads[0].axis, let index = context.inputs[1]?.constant, index.count == 1,
      index.int64s() == [0]
    {
      return .leaves
    }
    return .notPerToken("a gather along the token axis")
  }
}
