import AttncKernels
import AttncTensor

/// `Unsqueeze(x, axes)`: inserts size-1 axes.
///
/// The axes are positions of the output (negative
/// positions count from the end of the output). `axes` is an attribute before opset 13 and an
/// int64 input from 13.
///
/// When the `axes` input is not known statically the output has `rank + count(axes)` fresh dims.
/// Its content (a scalar unsqueezed to `[1]`, the `Shape → Gather → Unsqueeze → Concat` idiom) is
/// the input's.
public struct Unsqueeze: Op, ContentPropagating {
  /// The opset 1–12 `axes` attribute.
  public var axesAttribute: [Int]?
  /// True from opset 13, where `axes` is the second input.
  public var axesFromInput: Bool
  private let fresh = DataDependentDims("unsqueeze")

  /// Reads `axes` as an attribute before opset 13.
  /// - Throws: "attribute 'axes' is required" before opset 13.
  public init(attributes: Attributes, opset: Int) throws {
    axesFromInput = opset >= 13
    if !axesFromInput {
      guard let axes = try attributes.ints("axes") else {
        throw AttncError.invalid("attribute 'axes' is required")
      }
      axesAttribute = axes
    }
  }

  /// Output dims for known `axes`.
  /// - Throws: "axis 4 is out of range for rank 3"; "axes [1, -2] repeat an axis".
  func outputDims(_ dims: [Dim], axes: [Int]) throws -> [Dim] {
    let rank = dims.count + axes.count
    let normalized = try axes.map { try Shapes.normalize(axis: $0, rank: rank) }
    guard Set(normalized).count == normalized.count else {
      throw AttncError.invalid("axes \(axes) repeat an axis")
    }
    var result: [Dim] = []
    var source = dims.makeIterator()
    for axis in 0..<rank {
      if normalized.contains(axis) {
        result.append(1)
      } else if let d = source.next() {
        result.append(d)
      }
    }
    return result
  }

  /// The input dims with 1s inserted.
  /// - Throws: see `outputDims(_:axes:)`; "input 'axes' must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(axesFromInput ? 2...2 : 1...1)
    let x = try inputs.required(0)
    guard axesFromInput else {
      return [TensorType(x.dtype, try outputDims(x.dims, axes: axesAttribute ?? []))]
    }
    let (count, content) = try inputs.required(1).integerVector("axes")
    guard let axes = content.flatMap(Squeeze.constants) else {
      return [TensorType(x.dtype, (0..<(x.rank + count)).map { fresh.dim($0) })]
    }
    return [TensorType(x.dtype, try outputDims(x.dims, axes: axes))]
  }

  /// Unsqueezing keeps the elements: the content passes through.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }
}

extension Unsqueeze: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let type = context.outputs.first ?? nil else { return nil }
    return Reshape.staticView(type) ?? Lowering(SqueezeDynamicCall(unsqueeze: true, axes: axesAttribute))
  }
}

extension Unsqueeze: Bypassable {
  public func isNoOp(_ context: NodeContext) -> Bool { outputTypeIsInputType(context) }
}
