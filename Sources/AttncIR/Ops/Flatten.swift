import AttncKernels
import AttncTensor

/// `Flatten(x)`: the 2-D tensor `[d0*…*d(axis-1), d(axis)*…*d(r-1)]`.
///
/// `axis` defaults to 1 and may equal the rank (then the second dim is 1) or be negative (opset
/// 11). Dims multiply symbolically: `[batch, seq, 12, 64]` at axis 2 is `[batch*seq, 768]`.
public struct Flatten: AttributedOp {
  /// The `axis` attribute, in `-rank...rank`.
  public var axis: Int

  /// Reads `axis` (default 1).
  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 1)
  }

  /// The split point in `0...rank`.
  /// - Throws: "axis 4 is out of range for rank 3" (the axis may equal the rank).
  func split(_ rank: Int) throws -> Int {
    guard axis >= -rank && axis <= rank else {
      throw AttncError.invalid("axis \(axis) is out of range for rank \(rank)")
    }
    return axis < 0 ? axis + rank : axis
  }

  /// `[product(dims[..<axis]), product(dims[axis...])]`.
  /// - Throws: see `split(_:)`.
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    let a = try split(x.rank)
    let outer = x.dims[..<a].reduce(Dim(1), *)
    let inner = x.dims[a...].reduce(Dim(1), *)
    return [TensorType(x.dtype, [outer, inner])]
  }

}

extension Flatten: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let type = context.outputs.first ?? nil else { return nil }
    return Reshape.staticView(type)
  }
}
