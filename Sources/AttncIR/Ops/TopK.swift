import AttncKernels
import AttncTensor

/// `TopK(x, k)` (opset 10 and later: `k` an int64 `[1]` input): the `k` largest elements along
/// `axis` (default −1; the smallest with `largest = 0`) and their int64 indices, largest first,
/// equal values by the lower index first (ONNX's tie rule; `sorted = 0` gets the same order).
/// A `k` that is not a constant gives the axis a fresh data-dependent dim. Kernel:
/// `Selection.topK`.
public struct TopK: AttributedOp {
  public var axis: Int
  public var largest: Bool
  private let fresh = DataDependentDims("topk")

  /// Reads `axis` and `largest`.
  /// - Throws: opsets before 10 (`k` as an attribute).
  public init(attributes: Attributes, opset: Int) throws {
    guard opset >= 10 else { throw AttncError.unsupported("TopK before opset 10 (k as an attribute) is not supported") }
    axis = try attributes.int("axis", default: -1)
    largest = try attributes.int("largest", default: 1) != 0
  }

  /// `x`'s dims with `axis` of length `k`: the values (`x`'s type) and the indices (int64).
  /// - Throws: "axis 3 is out of range for rank 2"; "k must be an int64 [1] tensor, got float32 [1]";
  ///   a constant `k` larger than a known axis.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let x = try inputs.required(0), k = try inputs.required(1)
    try x.expectNumeric("x")
    guard k.dtype == .int64, k.rank == 1 else { throw AttncError.invalid("k must be an int64 [1] tensor, got \(k.type)") }
    let a = try x.type.axis(axis)
    var dims = x.dims
    if let value = k.constantInts?.first {
      if let length = dims[a].value, value > length || value < 0 {
        throw AttncError.invalid("k = \(value) is outside 0...\(length) on axis \(a)")
      }
      dims[a] = Dim(value)
    } else {
      dims[a] = fresh.dim(0)
    }
    return [TensorType(x.dtype, dims), TensorType(.int64, dims)]
  }
}

extension TopK: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(TopKCall(axis: axis, largest: largest)) }
}
