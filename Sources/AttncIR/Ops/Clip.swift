import AttncKernels
import AttncTensor

/// `Clip(x, min, max)`: `y = min(max(x, lo), hi)` elementwise; when `lo > hi` every element
/// becomes `hi` (ONNX Clip-13). NaN stays NaN.
///
/// Before opset 11 the bounds are the float attributes `min`/`max` (defaults ∓FLT_MAX); from
/// opset 11 they are optional scalar inputs 1 and 2 of the input's type (absent = unbounded).
public struct Clip: AttributedOp {
  /// The attribute bounds of opsets before 11; nil from opset 11 on.
  public var attributeBounds: (min: Double, max: Double)?

  public init(attributes: Attributes, opset: Int) throws {
    if opset < 11 {
      attributeBounds = (
        Double(try attributes.float("min", default: -Float.greatestFiniteMagnitude)),
        Double(try attributes.float("max", default: Float.greatestFiniteMagnitude))
      )
    }
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(attributeBounds == nil ? 1...3 : 1...1)
    let x = try inputs.required(0)
    if attributeBounds == nil {
      try x.expectNumeric("input")
    } else {
      try x.expectFloatingPoint("input")
    }
    for (index, name) in [(1, "min"), (2, "max")] {
      guard let bound = inputs.optional(index) else { continue }
      try bound.expectSameType(as: x, name, "input")
      guard bound.dims.allSatisfy({ $0 == 1 }) else {
        throw AttncError.invalid(
          "input '\(name)' must be a scalar, got shape \(bound.dims.shapeDescription)")
      }
    }
    return [x.type]
  }

}

extension Clip: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(ClipCall(bounds: attributeBounds)) }
}

extension Clip: Tokenwise {
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule { .elementwise(reads, context) }
}
