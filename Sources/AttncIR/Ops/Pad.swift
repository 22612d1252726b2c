import AttncKernels
import AttncTensor

/// `Pad(data, pads, constant_value?, axes?)`: each listed axis grows by `pads[k]` elements
/// before and `pads[k + n]` after (negative counts crop).
///
/// The new elements are `constant_value` (default 0) in mode `constant`, the nearest edge element
/// in `edge`, the mirror image without repeating the edge in `reflect`, and the periodic
/// continuation in `wrap` (opset 19). Opsets 2–10 read `pads` and `value` from attributes;
/// `axes` arrives in opset 18. Output dims are `d + before + after`; unknown pads give fresh dims.
public struct Pad: AttributedOp {
  /// How the added elements are chosen; raw values are the `mode` attribute's.
  public enum Mode: String, Sendable, CaseIterable {
    case constant, reflect, edge, wrap
  }

  public var mode: Mode
  /// The attribute form of opsets 2–10: `pads` and `value`.
  public var attributePads: [Int]?
  public var attributeValue: Float
  private let fresh = DataDependentDims("pad")

  /// Reads `mode` and, before opset 11, `pads` and `value`.
  /// - Throws: "mode 'circular' is not one of constant, reflect, edge, wrap"; "mode 'wrap' needs
  ///   opset 19 or later"; "attribute 'pads' is required".
  public init(attributes: Attributes, opset: Int) throws {
    mode = try attributes.choice("mode", default: .constant)
    if mode == .wrap && opset < 19 { throw AttncError.invalid("mode 'wrap' needs opset 19 or later, the model has \(opset)") }
    if opset < 11 {
      guard let pads = try attributes.ints("pads") else { throw AttncError.invalid("attribute 'pads' is required") }
      attributePads = pads
    }
    attributeValue = try attributes.float("value", default: 0)
  }

  /// `d + before + after` on each padded axis.
  /// - Throws: "pads has 3 entries for 2 axes"; "padding axis 2 gives -1 elements";
  ///   "input 'constant_value' must be float32 like the data, got int64"; "axes [0, 0] repeat an axis".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(attributePads == nil ? 2...4 : 1...1)
    let x = try inputs.required(0)
    if let value = inputs.optional(2), value.dtype != x.dtype {
      throw AttncError.invalid("input 'constant_value' must be \(x.dtype) like the data, got \(value.dtype)")
    }
    let axes = try paddedAxes(inputs, rank: x.rank)
    let pads: [Dim]?
    if let attributePads {
      pads = attributePads.map { Dim($0) }
    } else {
      let (length, content) = try inputs.required(1).integerVector("pads")
      guard let axes, length == 2 * axes.count else {
        throw AttncError.invalid("pads has \(length) entries for \(axes?.count ?? x.rank) axes")
      }
      pads = content
    }
    guard let axes, let pads else { return [TensorType(x.dtype, x.dims.indices.map { fresh.dim($0) })] }
    guard pads.count == 2 * axes.count else {
      throw AttncError.invalid("pads has \(pads.count) entries for \(axes.count) axes")
    }
    var dims = x.dims
    for (k, axis) in axes.enumerated() {
      dims[axis] = x.dims[axis] + pads[k] + pads[k + axes.count]
      if let size = dims[axis].value, size < 0 {
        throw AttncError.invalid("padding axis \(axis) gives \(size) elements")
      }
    }
    return [TensorType(x.dtype, dims)]
  }

  /// The padded axes, normalised: every axis without the `axes` input, nil when it is not constant.
  func paddedAxes(_ inputs: [ValueFact?], rank: Int) throws -> [Int]? {
    guard let given = inputs.optional(3) else { return Array(0..<rank) }
    guard let raw = given.constantInts else { return nil }
    let axes = try raw.map { try Shapes.normalize(axis: $0, rank: rank) }
    guard Set(axes).count == axes.count else { throw AttncError.invalid("axes \(raw) repeat an axis") }
    return axes
  }
}

extension Pad: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(PadCall(mode: mode.rawValue, pads: attributePads, value: attributeValue))
  }
}

extension Pad: Bypassable {
  /// Nothing added or cropped: every pad a known 0.
  public func isNoOp(_ context: NodeContext) -> Bool {
    if let attributePads { return attributePads.allSatisfy { $0 == 0 } }
    guard context.inputs.count > 1, let pads = context.inputs[1]?.constantInts else { return false }
    return pads.allSatisfy { $0 == 0 }
  }
}
