import AttncKernels
import AttncTensor

/// `Resize(X, roi?, scales?, sizes?)`: resamples `X` along some axes by nearest, (multi)linear or
/// cubic interpolation (opsets 10–19; opset 10 has inputs `X, scales` only).
///
/// Exactly one of `scales` (float32, one per resized axis) and `sizes` (int64) is given; the other
/// is absent or empty. Output dims on the resized axes (`axes`, opset 18, default all):
/// from scales `O = floor(D · scale)`; from sizes `O = size` with `keep_aspect_ratio_policy =
/// stretch` (default), else one scale `s = min` (`not_larger`) or `max` (`not_smaller`) of
/// `size / D` over the axes and `O = round_half_up(D · s)`. The other axes keep their dims. When
/// scales or sizes are not constants, the resized dims are fresh symbols; the rank stays exact.
public struct Resize: AttributedOp {
  /// The interpolation `mode`.
  public enum Mode: String, Sendable { case nearest, linear, cubic }

  public var mode: Mode
  /// `coordinate_transformation_mode` (default `half_pixel`; `asymmetric` at opset 10).
  public var coordinateTransformation: String
  /// `nearest_mode` (default `round_prefer_floor`).
  public var nearestMode: String
  public var cubicCoefficient: Float
  public var excludeOutside: Bool
  public var extrapolationValue: Float
  public var antialias: Bool
  /// The `axes` attribute (opset 18); nil = every axis.
  public var axes: [Int]?
  /// `keep_aspect_ratio_policy`: `stretch`, `not_larger` or `not_smaller`.
  public var keepAspectRatioPolicy: String
  /// Whether the inputs are `X, scales` (opset 10) rather than `X, roi, scales, sizes`.
  public var scalesOnly: Bool
  private let freshDims = DataDependentDims("resize")

  static let coordinateModes: Set<String> = [
    "half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
    "tf_half_pixel_for_nn", "tf_crop_and_resize",
  ]
  static let nearestModes: Set<String> = [
    "round_prefer_floor", "round_prefer_ceil", "floor", "ceil",
  ]
  static let policies: Set<String> = ["stretch", "not_larger", "not_smaller"]

  /// - Throws: "attribute 'mode' is 'area', not one of nearest, linear, cubic" and likewise for
  ///   the other string attributes.
  public init(attributes: Attributes, opset: Int) throws {
    let modeText = try attributes.string("mode", default: "nearest")
    guard let mode = Mode(rawValue: modeText), opset >= 11 || mode != .cubic else {
      throw AttncError.invalid(
        "attribute 'mode' is '\(modeText)', not one of nearest, linear, cubic")
    }
    self.mode = mode
    scalesOnly = opset < 11
    coordinateTransformation = try attributes.string(
      "coordinate_transformation_mode", default: scalesOnly ? "asymmetric" : "half_pixel")
    nearestMode = try attributes.string("nearest_mode", default: "round_prefer_floor")
    keepAspectRatioPolicy = try attributes.string("keep_aspect_ratio_policy", default: "stretch")
    for (name, value, allowed) in [
      ("coordinate_transformation_mode", coordinateTransformation, Resize.coordinateModes),
      ("nearest_mode", nearestMode, Resize.nearestModes),
      ("keep_aspect_ratio_policy", keepAspectRatioPolicy, Resize.policies),
    ] where !allowed.contains(value) {
      throw AttncError.invalid(
        "attribute '\(name)' is '\(value)', not one of \(allowed.sorted().joined(separator: ", "))")
    }
    cubicCoefficient = try attributes.float("cubic_coeff_a", default: -0.75)
    excludeOutside = try attributes.int("exclude_outside", default: 0) != 0
    extrapolationValue = try attributes.float("extrapolation_value", default: 0)
    antialias = try attributes.int("antialias", default: 0) != 0
    axes = try attributes.ints("axes")
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(scalesOnly ? 2...2 : 1...4)
    let x = try inputs.required(0)
    var resized: [Int] = []
    for axis in axes ?? Array(0..<x.rank) {
      let normalized = try x.type.axis(axis)
      guard !resized.contains(normalized) else {
        throw AttncError.invalid("attribute 'axes' names axis \(axis) twice")
      }
      resized.append(normalized)
    }
    let scales = Resize.given(inputs.optional(scalesOnly ? 1 : 2))
    let sizes = scalesOnly ? nil : Resize.given(inputs.optional(3))
    var dims = x.dims
    switch (scales, sizes) {
    case (nil, nil):
      throw AttncError.invalid("one of the inputs 'scales' and 'sizes' is required")
    case (.some, .some):
      throw AttncError.invalid("only one of the inputs 'scales' and 'sizes' may be given")
    case (let scales?, nil):
      try Resize.expectVector(scales, "scales", float: true, count: resized.count)
      guard let values = scales.constant?.doubles() else {
        for axis in resized { dims[axis] = freshDims.dim(axis) }
        break
      }
      for (k, axis) in resized.enumerated() {
        guard values[k] > 0, values[k] < Resize.largestScale else {
          throw AttncError.invalid("input 'scales' must be positive and finite, got \(values[k])")
        }
        dims[axis] = try scaled(x.dims[axis], by: values[k], axis: axis)
      }
    case (nil, let sizes?):
      try Resize.expectVector(sizes, "sizes", float: false, count: resized.count)
      guard let values = sizes.constantInts else {
        for axis in resized { dims[axis] = freshDims.dim(axis) }
        break
      }
      guard values.allSatisfy({ $0 >= 0 }) else {
        throw AttncError.invalid("input 'sizes' must be non-negative, got \(values)")
      }
      if keepAspectRatioPolicy == "stretch" {
        for (k, axis) in resized.enumerated() { dims[axis] = Dim(values[k]) }
        break
      }
      let lengths = resized.compactMap { x.dims[$0].value }
      guard lengths.count == resized.count, !lengths.contains(0) else {
        for axis in resized { dims[axis] = freshDims.dim(axis) }
        break
      }
      let ratios = zip(values, lengths).map { Double($0) / Double($1) }
      let scale = (keepAspectRatioPolicy == "not_larger" ? ratios.min() : ratios.max()) ?? 1
      for (k, axis) in resized.enumerated() {
        dims[axis] = Dim(try Resize.integer(scale * Double(lengths[k]) + 0.5))
      }
    }
    return [TensorType(x.dtype, dims)]
  }

  /// `floor(D · scale)`, exact for symbolic `D` when the scale is an integer or its reciprocal;
  /// otherwise a fresh dim.
  func scaled(_ dim: Dim, by scale: Double, axis: Int) throws -> Dim {
    if let length = dim.value { return Dim(try Resize.integer(Double(length) * scale)) }
    if scale == scale.rounded() { return dim * Dim(try Resize.integer(scale)) }
    let reciprocal = 1 / scale
    if reciprocal == reciprocal.rounded(), reciprocal * scale == 1, reciprocal < 1e15 {
      return dim.floorDivided(by: Int(reciprocal))
    }
    return freshDims.dim(axis)
  }

  /// Scales at or above this are refused (they would overflow any dim).
  static let largestScale = 1e15

  /// `floor(value)` as an Int.
  /// - Throws: "resized dim 1e+20 is too large" beyond 2^53.
  static func integer(_ value: Double) throws -> Int {
    guard value.isFinite, abs(value) < 9_007_199_254_740_992 else {
      throw AttncError.invalid("resized dim \(value) is too large")
    }
    return Int(value.rounded(.down))
  }

  /// The input if present and not known to be empty.
  static func given(_ fact: ValueFact?) -> ValueFact? {
    guard let fact else { return nil }
    if fact.rank == 1, fact.dims[0] == 0 { return nil }
    return fact
  }

  /// Throws unless `fact` is a vector of the right element type and (when known) length.
  /// - Throws: "input 'scales' must be a float vector of 4 entries, got int64[4]".
  static func expectVector(_ fact: ValueFact, _ name: String, float: Bool, count: Int) throws {
    let typeOK = float ? fact.dtype.isFloatingPoint : fact.dtype == .int64
    let lengthOK = fact.rank == 1 && (fact.dims[0].value.map { $0 == count } ?? true)
    guard typeOK, lengthOK else {
      let kind = float ? "float" : "int64"
      throw AttncError.invalid(
        "input '\(name)' must be a \(kind) vector of \(count) entries, got \(fact.type)")
    }
  }
}

extension Resize: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    var options = Resampling.Options()
    options.mode = mode.rawValue
    options.coordinateTransformation = coordinateTransformation
    options.nearestMode = nearestMode
    options.cubicCoefficient = Double(cubicCoefficient)
    options.excludeOutside = excludeOutside
    options.extrapolationValue = Double(extrapolationValue)
    options.antialias = antialias
    options.keepAspectRatioPolicy = keepAspectRatioPolicy
    options.axes = try axes.map { try $0.map { try context.axis($0) } }
    return Lowering(ResizeCall(options: options, scalesOnly: scalesOnly))
  }
}
