import AttncKernels
import AttncTensor

/// `Squeeze(x, axes?)`: removes size-1 axes.
///
/// It removes the listed axes, or, without `axes`, every axis whose dim
/// is the constant 1 (a symbolic dim is taken as not 1). `axes` is an attribute before opset 13
/// and an optional int64 input from 13; negative axes count from the end.
///
/// When the `axes` input is not known statically the output has `rank - count(axes)` fresh dims.
/// Its content (a `[1]` vector squeezed to a scalar) is the input's.
public struct Squeeze: Op, ContentPropagating {
  /// The opset 1–12 `axes` attribute.
  public var axesAttribute: [Int]?
  /// True from opset 13, where `axes` is the second input.
  public var axesFromInput: Bool
  private let fresh = DataDependentDims("squeeze")

  /// Reads `axes` as an attribute before opset 13.
  public init(attributes: Attributes, opset: Int) throws {
    axesFromInput = opset >= 13
    axesAttribute = axesFromInput ? nil : try attributes.ints("axes")
  }

  /// Output dims for known `axes` (nil: squeeze every constant 1).
  /// - Throws: "axis 3 is out of range for rank 2"; "cannot squeeze axis 1 of size 3";
  ///   "axes [0, -2] repeat an axis".
  func outputDims(_ dims: [Dim], axes: [Int]?) throws -> [Dim] {
    guard let axes else { return dims.filter { $0 != 1 } }
    let normalized = try axes.map { try Shapes.normalize(axis: $0, rank: dims.count) }
    guard Set(normalized).count == normalized.count else {
      throw AttncError.invalid("axes \(axes) repeat an axis")
    }
    for a in normalized {
      if let size = dims[a].value, size != 1 {
        throw AttncError.invalid("cannot squeeze axis \(a) of size \(size)")
      }
    }
    return dims.indices.filter { !normalized.contains($0) }.map { dims[$0] }
  }

  /// The input dims without the squeezed axes.
  /// - Throws: see `outputDims(_:axes:)`; "input 'axes' must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(axesFromInput ? 1...2 : 1...1)
    let x = try inputs.required(0)
    var axes = axesAttribute
    if axesFromInput, let given = inputs.optional(1) {
      let (count, content) = try given.integerVector("axes")
      guard let ints = content.flatMap(Squeeze.constants) else {
        guard count <= x.rank else {
          throw AttncError.invalid("cannot squeeze \(count) axes of a rank-\(x.rank) tensor")
        }
        return [TensorType(x.dtype, (0..<(x.rank - count)).map { fresh.dim($0) })]
      }
      axes = ints
    }
    return [TensorType(x.dtype, try outputDims(x.dims, axes: axes))]
  }

  /// Squeezing keeps the elements: the content passes through.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }

  /// The values of dims that are all constants.
  static func constants(_ dims: [Dim]) -> [Int]? {
    let values = dims.compactMap(\.value)
    return values.count == dims.count ? values : nil
  }
}

extension Squeeze: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let type = context.outputs.first ?? nil else { return nil }
    return Reshape.staticView(type) ?? Lowering(SqueezeDynamicCall(unsqueeze: false, axes: axesAttribute))
  }
}

extension Squeeze: Bypassable {
  public func isNoOp(_ context: NodeContext) -> Bool { outputTypeIsInputType(context) }
}
