import AttncTensor

/// `Resize`: separable resampling, one resized axis at a time, in Double.
///
/// Each output index `y` of an axis maps to a source coordinate `x` (the coordinate
/// transformation); the output is `Σ wⱼ·X[clamp(iⱼ)]` over a window of neighbours `iⱼ` of `x`
/// (clamping is edge padding), with weights from the interpolation mode:
/// - nearest: the single neighbour picked by `nearest_mode` (an integral `x` picks `x`);
/// - linear: `1 - r, r` at `⌊x⌋, ⌊x⌋ + 1`, `r = x - ⌊x⌋`;
/// - cubic: Keys' kernel with coefficient `A` at the 4 neighbours `⌊x⌋ - 1 … ⌊x⌋ + 2`;
/// - antialias (linear/cubic, downsampling by `s < 1`): the kernel stretched by `1/s`, so the
///   window covers its wider support (about `2/s` taps for linear, `4/s` for cubic), weights
///   normalised to sum 1.
/// An integral `x` is treated as `⌊x⌋ = x - 1, r = 1`, so the neighbour left of `x` comes first.
/// `exclude_outside` zeroes the weights of neighbours outside `[0, D)` and renormalises.
public enum Resampling {
  /// The interpolation attributes of one `Resize` node.
  public struct Options: Sendable, Codable {
    public var mode: String = "nearest"
    public var coordinateTransformation: String = "half_pixel"
    public var nearestMode: String = "round_prefer_floor"
    public var cubicCoefficient: Double = -0.75
    public var excludeOutside = false
    public var extrapolationValue: Double = 0
    public var antialias = false
    /// `stretch`, `not_larger` or `not_smaller` (with `sizes` only).
    public var keepAspectRatioPolicy = "stretch"
    /// Resized axes, normalised; nil for all.
    public var axes: [Int]?
    enum CodingKeys: String, CodingKey {
      case mode, coordinateTransformation = "coordinate_transformation_mode", nearestMode = "nearest_mode"
      case cubicCoefficient = "cubic_coeff_a", excludeOutside = "exclude_outside"
      case extrapolationValue = "extrapolation_value", antialias
      case keepAspectRatioPolicy = "keep_aspect_ratio_policy", axes
    }

    public init() {}
  }

  /// Resizes `x` by `scales` or to `sizes` (one entry per resized axis; exactly one given).
  /// `roi` (`[starts…, ends…]` over the resized axes) is read by `tf_crop_and_resize` only.
  /// - Throws: "one of scales and sizes must be given", "scales has 3 entries for 4 axes".
  public static func resize(
    _ x: Tensor, roi: [Double]?, scales: [Double]?, sizes: [Int]?, options: Options
  ) throws -> Tensor {
    let rank = x.rank
    let axes = try (options.axes ?? Array(0..<rank)).map { try normalizedAxis($0, rank: rank) }
    var scale = [Double](repeating: 1, count: rank)
    var outShape = x.shape
    if let sizes {
      guard sizes.count == axes.count else {
        throw AttncError.invalid("sizes has \(sizes.count) entries for \(axes.count) axes")
      }
      for (k, axis) in axes.enumerated() {
        scale[axis] = Double(sizes[k]) / Double(x.shape[axis])
        outShape[axis] = sizes[k]
      }
      if options.keepAspectRatioPolicy != "stretch" {
        let ratios = axes.map { scale[$0] }
        let common = (options.keepAspectRatioPolicy == "not_larger" ? ratios.min() : ratios.max()) ?? 1
        for axis in axes {
          scale[axis] = common
          outShape[axis] = Int(common * Double(x.shape[axis]) + 0.5)
        }
      }
    } else if let scales {
      guard scales.count == axes.count else {
        throw AttncError.invalid("scales has \(scales.count) entries for \(axes.count) axes")
      }
      for (k, axis) in axes.enumerated() {
        guard scales[k] > 0, scales[k].isFinite else {
          throw AttncError.invalid("scales must be positive and finite, got \(scales[k])")
        }
        scale[axis] = scales[k]
        outShape[axis] = Int((scales[k] * Double(x.shape[axis])).rounded(.down))
      }
    } else {
      throw AttncError.invalid("one of scales and sizes must be given")
    }
    // roi per axis as (start, end); the default [0, 1] is the whole axis.
    var region = [(Double, Double)](repeating: (0, 1), count: rank)
    if options.coordinateTransformation == "tf_crop_and_resize" {
      guard let roi, roi.count == 2 * axes.count else {
        throw AttncError.invalid("tf_crop_and_resize needs roi of \(2 * axes.count) entries, got \(roi?.count ?? 0)")
      }
      for (k, axis) in axes.enumerated() { region[axis] = (roi[k], roi[axes.count + k]) }
    }

    var values: [Double] = x.isFloat ? x.floats.map { Double($0) } : x.ints.map { Double($0) }
    var shape = x.shape
    for axis in axes {
      let trivialRegion = options.coordinateTransformation != "tf_crop_and_resize"
        || (region[axis].0 == 0 && region[axis].1 == 1)
      if scale[axis] == 1, outShape[axis] == shape[axis], trivialRegion { continue }
      guard shape[axis] > 0 || outShape[axis] == 0 else {
        throw AttncError.invalid("cannot resize axis \(axis) of length 0 to \(outShape[axis])")
      }
      let taps = try weights(
        input: shape[axis], output: outShape[axis], scale: scale[axis], region: region[axis],
        options: options)
      values = apply(taps, to: values, shape: shape, axis: axis, extrapolation: options.extrapolationValue)
      shape[axis] = outShape[axis]
    }
    if x.isFloat { return .float(values.map { Float($0) }, shape, dtype: x.dtype) }
    return .int(values.map { Int64($0.rounded(.towardZero)) }, shape, dtype: x.dtype)
  }

  /// The taps of one output position: neighbour indices (already clamped) and weights, or nil
  /// when the position lies outside the input (tf_crop_and_resize extrapolation).
  typealias Taps = (indices: [Int], weights: [Double])?

  /// Taps for every output index of an axis of `input` → `output` elements.
  static func weights(
    input: Int, output: Int, scale: Double, region: (Double, Double), options: Options
  ) throws -> [Taps] {
    (0..<output).map { y in
      let (x, outside) = sourceCoordinate(
        Double(y), input: input, output: output, scale: scale, region: region,
        mode: options.coordinateTransformation)
      if outside { return nil }
      // Left neighbour and fraction in (0, 1]: an integral x counts as r = 1 from x - 1.
      var left = x.rounded(.down)
      if left == x { left -= 1 }
      let ratio = x - left
      let base = Int(left)
      var coefficients: [Double]
      switch options.mode {
      case "nearest":
        coefficients = nearest(ratio, options.nearestMode)
      case "linear":
        coefficients = options.antialias ? linearAntialias(ratio, scale) : [1 - ratio, ratio]
      default:
        coefficients = options.antialias
          ? cubicAntialias(ratio, scale, options.cubicCoefficient)
          : cubic(ratio, options.cubicCoefficient)
      }
      // An even window of n taps: base + 1 - n/2 … base + n/2.
      let first = base + 1 - coefficients.count / 2
      let raw = (0..<coefficients.count).map { first + $0 }
      if options.excludeOutside {
        for (j, index) in raw.enumerated() where index < 0 || index >= input { coefficients[j] = 0 }
        let sum = coefficients.reduce(0, +)
        if sum != 0 { coefficients = coefficients.map { $0 / sum } }
      }
      return (raw.map { min(max($0, 0), input - 1) }, coefficients)
    }
  }

  /// Source coordinate of output index `y`, and whether it falls outside the input
  /// (tf_crop_and_resize only). `length = scale · input` is the unrounded output length.
  static func sourceCoordinate(
    _ y: Double, input: Int, output: Int, scale: Double, region: (Double, Double), mode: String
  ) -> (Double, Bool) {
    let d = Double(input)
    let length = scale * d
    switch mode {
    case "align_corners":
      return (length == 1 ? 0 : y * (d - 1) / (length - 1), false)
    case "asymmetric":
      return (y / scale, false)
    case "tf_crop_and_resize":
      let span = (region.1 - region.0) * (d - 1)
      let x = (length == 1 ? span / 2 : y * span / (length - 1)) + region.0 * (d - 1)
      return (x, x < 0 || x > d - 1)
    case "pytorch_half_pixel":
      return (length == 1 ? -0.5 : (y + 0.5) / scale - 0.5, false)
    case "half_pixel_symmetric":
      let offset = d / 2 * (1 - Double(output) / length)
      return (offset + (y + 0.5) / scale - 0.5, false)
    case "tf_half_pixel_for_nn":
      return ((y + 0.5) / scale, false)
    default:  // half_pixel
      return ((y + 0.5) / scale - 0.5, false)
    }
  }

  /// Nearest: a one-hot pair over (left, left + 1).
  static func nearest(_ ratio: Double, _ mode: String) -> [Double] {
    if ratio == 1 { return [0, 1] }
    let right: Bool
    switch mode {
    case "round_prefer_ceil": right = ratio >= 0.5
    case "floor": right = false
    case "ceil": right = true
    default: right = ratio > 0.5  // round_prefer_floor
    }
    return right ? [0, 1] : [1, 0]
  }

  /// Keys' cubic kernel `W(t)`: `(A+2)|t|³ - (A+3)|t|² + 1` for `|t| ≤ 1`,
  /// `A|t|³ - 5A|t|² + 8A|t| - 4A` for `1 < |t| < 2`, else 0.
  static func keys(_ t: Double, _ a: Double) -> Double {
    let t = abs(t)
    if t <= 1 { return ((a + 2) * t - (a + 3)) * t * t + 1 }
    if t < 2 { return ((a * t - 5 * a) * t + 8 * a) * t - 4 * a }
    return 0
  }

  /// Cubic taps at offsets -1, 0, 1, 2 from the left neighbour.
  static func cubic(_ ratio: Double, _ a: Double) -> [Double] {
    [keys(ratio + 1, a), keys(ratio, a), keys(1 - ratio, a), keys(2 - ratio, a)]
  }

  /// Linear (triangle) kernel stretched by `1/s` for `s < 1`, normalised.
  static func linearAntialias(_ ratio: Double, _ scale: Double) -> [Double] {
    let s = min(scale, 1)
    let start = Int((-1 / s).rounded(.down)) + 1
    let taps = (start..<(2 - start)).map { j in min(max(1 - abs((Double(j) - ratio) * s), 0), 1) }
    let sum = taps.reduce(0, +)
    return taps.map { $0 / sum }
  }

  /// Keys' kernel stretched by `1/s` for `s < 1`, normalised.
  static func cubicAntialias(_ ratio: Double, _ scale: Double, _ a: Double) -> [Double] {
    let s = min(scale, 1)
    let start = Int((-2 / s).rounded(.down)) + 1
    let taps = (start..<(2 - start)).map { j in keys(s * (Double(j) - ratio), a) }
    let sum = taps.reduce(0, +)
    return taps.map { $0 / sum }
  }

  /// Resamples `values` (of `shape`) along `axis` with one tap list per output index: each
  /// output is 0 plus weight · value over its taps in order (zero weights skipped). The taps are
  /// flattened once and the outputs split over the threads by (outer index, output index) lines.
  static func apply(_ taps: [Taps], to values: [Double], shape: [Int], axis: Int, extrapolation: Double) -> [Double] {
    let outer = shape[..<axis].reduce(1, *)
    let inner = shape[(axis + 1)...].reduce(1, *)
    let length = shape[axis], lines = outer * taps.count
    // Output y's nonzero taps are flat[start[y] ..< start[y + 1]]; start[y] < 0: outside (extrapolated).
    var start = [Int](), index = [Int](), weight = [Double]()
    for tap in taps {
      start.append(tap == nil ? -1 : index.count)
      for (i, w) in zip(tap?.indices ?? [], tap?.weights ?? []) where w != 0 {
        index.append(i)
        weight.append(w)
      }
    }
    start.append(index.count)
    var out = [Double](repeating: 0, count: lines * inner)
    values.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        let (source, target) = (source.baseAddress!, target.baseAddress!)
        Parallel.chunks(lines, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(1, inner))) { range in
          for line in range {
            let (o, y) = line.quotientAndRemainder(dividingBy: taps.count)
            let row = target + line * inner
            guard start[y] >= 0 else {
              row.update(repeating: extrapolation, count: inner)
              continue
            }
            var end = y + 1
            while start[end] < 0 { end += 1 }
            let from = source + o * length * inner
            if inner == 1 {
              var sum = 0.0
              for t in start[y]..<start[end] { sum += weight[t] * from[index[t]] }
              row[0] = sum
            } else {
              for t in start[y]..<start[end] {
                let (w, column) = (weight[t], from + index[t] * inner)
                for e in 0..<inner { row[e] += w * column[e] }
              }
            }
          }
        }
      }
    }
    return out
  }
}
