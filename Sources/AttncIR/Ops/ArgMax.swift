import AttncKernels
import AttncTensor

/// `ArgMax(x)`: the int64 index of the largest element along `axis` (default 0); `keepdims`
/// (default 1) keeps that axis as 1, else it is removed; ties go to the first index, or the last
/// with `select_last_index = 1` (opset 12). Kernel: `Selection.argMax`.
public struct ArgMax: AttributedOp {
  public var axis: Int
  public var keepDims: Bool
  public var selectLast: Bool

  /// Reads `axis`, `keepdims` and `select_last_index`.
  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
    keepDims = try attributes.int("keepdims", default: 1) != 0
    selectLast = try attributes.int("select_last_index", default: 0) != 0
  }

  /// `x`'s dims with `axis` set to 1 or removed, int64.
  /// - Throws: "axis 3 is out of range for rank 2"; a non-numeric `x`.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    try x.expectNumeric("x")
    let a = try x.type.axis(axis)
    var dims = x.dims
    if keepDims { dims[a] = 1 } else { dims.remove(at: a) }
    return [TensorType(.int64, dims)]
  }
}

extension ArgMax: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(ArgMaxCall(axis: axis, keepDims: keepDims, selectLast: selectLast))
  }
}
