import AttncKernels
import AttncTensor

/// `ScatterND(data, indices, updates)`: a copy of `data` with the slices that `indices`
/// addresses replaced by (or, with `reduction`, combined with) `updates`.
///
/// The last axis of `indices` (length q) holds index tuples into the first q axes of `data`;
/// each tuple addresses a slice of dims `data[q...]`, and `updates` has dims
/// `indices[..<(rank - 1)] + data[q...]`. `reduction` (opset 16) is `none` (the last update of a
/// repeated index wins, as in the reference), `add`, `mul`, `max` or `min` (opset 18). The output
/// has `data`'s type. Hugging Face encoder-decoder exports (T5, BART) write it when they fill the
/// padded part of the causal mask.
public struct ScatterND: AttributedOp {
  public typealias Reduction = Movement.ScatterReduction

  /// The `reduction` attribute.
  public var reduction: Reduction

  /// Reads `reduction` (default `none`).
  /// - Throws: "reduction 'sum' is not one of none, add, mul, max, min".
  public init(attributes: Attributes, opset: Int) throws {
    reduction = try attributes.choice("reduction", default: Reduction.none)
  }

  /// `data`'s type.
  /// - Throws: "indices must be int64, got int32"; "updates has type float16 but data has
  ///   float32"; "indices address 3 axes of a rank-2 tensor"; "updates must have dims
  ///   [2, 4], got [2, 3]".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...3)
    let (data, indices, updates) = (try inputs.required(0), try inputs.required(1), try inputs.required(2))
    if indices.dtype != .int64 { throw AttncError.invalid("indices must be int64, got \(indices.dtype)") }
    if updates.dtype != data.dtype { throw AttncError.invalid("updates has type \(updates.dtype) but data has \(data.dtype)") }
    guard let last = indices.dims.last else {
      throw AttncError.invalid("indices must have rank 1 or more, got rank 0")
    }
    if let q = last.value {
      guard q <= data.rank else { throw AttncError.invalid("indices address \(q) axes of a rank-\(data.rank) tensor") }
      let expected = Array(indices.dims.dropLast()) + Array(data.dims[q...])
      guard updates.rank == expected.count else {
        throw AttncError.invalid("updates must have dims \(expected.shapeDescription), got \(updates.dims.shapeDescription)")
      }
      for (axis, (u, e)) in zip(updates.dims, expected).enumerated() {
        _ = try DimCheck.unify(u, e, "updates and indices + data dims on axis \(axis)")
      }
    }
    return [TensorType(data.dtype, data.dims)]
  }
}

extension ScatterND: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(ScatterNDCall(reduction: reduction)) }
}
