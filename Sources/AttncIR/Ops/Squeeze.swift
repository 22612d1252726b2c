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
public struct Squeeze: AxesView, AttributedOp {
  public static let inserts = false
  public var axes: AxesOperand

  /// Reads `axes` as an attribute before opset 13.
  public init(attributes: Attributes, opset: Int) throws {
    axes = try AxesOperand(attributes, opset: opset, op: "squeeze")
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
    try inputs.expectCount(self.axes.fromInput ? 1...2 : 1...1)
    let x = try inputs.required(0)
    var axes = self.axes.attribute
    if self.axes.fromInput, let given = inputs.optional(1) {
      let (count, content) = try given.integerVector("axes")
      guard let ints = content.flatMap(Squeeze.constants) else {
        guard count <= x.rank else {
          throw AttncError.invalid("cannot squeeze \(count) axes of a rank-\(x.rank) tensor")
        }
        return [TensorType(x.dtype, (0..<(x.rank - count)).map { self.axes.fresh.dim($0) })]
      }
      axes = ints
    }
    return [TensorType(x.dtype, try outputDims(x.dims, axes: axes))]
  }

  /// The values of dims that are all constants.
  static func constants(_ dims: [Dim]) -> [Int]? {
    let values = dims.compactMap(\.value)
    return values.count == dims.count ? values : nil
  }
}

/// Where `Squeeze`'s and `Unsqueeze`'s axes come from: the `axes` attribute before opset 13,
/// input 1 from it; and the fresh dims of an output whose axes are not known statically.
public struct AxesOperand: Sendable {
  /// The opset 1–12 attribute (nil when absent, and from opset 13).
  public var attribute: [Int]?
  /// From opset 13 the axes are input 1.
  public var fromInput: Bool
  let fresh: DataDependentDims

  /// - Parameter op: names the fresh dims (`squeeze`, `unsqueeze`).
  init(_ attributes: Attributes, opset: Int, op: String) throws {
    fresh = DataDependentDims(op)
    fromInput = opset >= 13
    attribute = fromInput ? nil : try attributes.ints("axes")
  }
}

/// `Squeeze` and `Unsqueeze`: views that remove or insert size-1 axes, lowered to a view under
/// static dims or to the dynamic call, keeping the elements (and so the content).
public protocol AxesView: Lowerable, Bypassable, ContentPropagating {
  /// `Unsqueeze` (inserts axes) rather than `Squeeze`.
  static var inserts: Bool { get }
  var axes: AxesOperand { get }
}

extension AxesView {
  /// The elements are kept: the content passes through.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    [inputs.first??.content]
  }

  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let type = context.outputs.first ?? nil else { return nil }
    return Reshape.staticView(type) ?? Lowering(SqueezeDynamicCall(unsqueeze: Self.inserts, axes: axes.attribute))
  }

  public func isNoOp(_ context: NodeContext) -> Bool { outputTypeIsInputType(context) }
}
