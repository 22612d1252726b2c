import AttncKernels
import AttncTensor

/// `Where(condition, x, y)`: `x` where the condition holds, else `y`, with numpy broadcasting of
/// all three.
///
/// A condition of known content selects dims elementwise, which is how legacy torch exports
/// write `Where(Equal(shape, -1), ones, shape)` (a `-1` in a shape becomes 1).
public struct Where: AttributelessOp, ContentPropagating {
  /// Where has no attributes.
  public init() {}

  /// The broadcast of the three inputs' dims, in `x`'s dtype.
  /// - Throws: "condition must be bool, got int64"; "x has type float32 but y has int64";
  ///   "cannot broadcast [2] with [3] with [2]".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(3...3)
    let condition = try inputs.required(0)
    let x = try inputs.required(1)
    let y = try inputs.required(2)
    guard condition.dtype == .bool else {
      throw AttncError.invalid("condition must be bool, got \(condition.dtype)")
    }
    guard x.dtype == y.dtype else {
      throw AttncError.invalid("x has type \(x.dtype) but y has \(y.dtype)")
    }
    return [TensorType(x.dtype, try Shapes.broadcast([condition.dims, x.dims, y.dims]))]
  }

  /// Elementwise selection of contents when the condition's elements are constants.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard inputs.count == 3, let c = inputs[0]?.content, let x = inputs[1]?.content,
      let y = inputs[2]?.content, let type = outputTypes.first, type.rank <= 1
    else { return [nil] }
    let n = max(c.count, x.count, y.count)
    guard [c.count, x.count, y.count].allSatisfy({ $0 == n || $0 == 1 }) else { return [nil] }
    var result: [Dim] = []
    for i in 0..<n {
      guard let flag = c[c.count == 1 ? 0 : i].value else { return [nil] }
      result.append(flag != 0 ? x[x.count == 1 ? 0 : i] : y[y.count == 1 ? 0 : i])
    }
    return [result]
  }
}

extension Where: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(WhereCall()) }
}

extension Where: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
