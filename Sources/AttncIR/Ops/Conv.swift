import AttncTensor

/// Convolution geometry shared by `Conv` and `ConvTranspose`: kernel, strides, dilations, pads
/// and `auto_pad`, parsed with the ONNX defaults.
public struct ConvGeometry: Sendable {
  public var autoPad: String
  var strides: [Int]?
  var dilations: [Int]?
  public var pads: [Int]?
  public var kernelShape: [Int]?
  public var group: Int

  init(_ attributes: Attributes) throws {
    autoPad = try attributes.string("auto_pad", default: "NOTSET")
    guard ["NOTSET", "SAME_UPPER", "SAME_LOWER", "VALID"].contains(autoPad) else {
      throw AttncError.invalid("auto_pad '\(autoPad)' is not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    }
    strides = try attributes.ints("strides")
    dilations = try attributes.ints("dilations")
    pads = try attributes.ints("pads")
    kernelShape = try attributes.ints("kernel_shape")
    group = try attributes.int("group", default: 1)
    guard group >= 1 else { throw AttncError.invalid("group must be ≥ 1, got \(group)") }
  }

  public func stride(_ i: Int) -> Int { strides?[safe: i] ?? 1 }
  public func dilation(_ i: Int) -> Int { dilations?[safe: i] ?? 1 }
  func padSum(_ i: Int, spatial: Int) -> Int {
    guard let pads, pads.count == 2 * spatial else { return 0 }
    return pads[i] + pads[i + spatial]
  }

  func validate(spatial: Int) throws {
    for (name, list, count) in [("strides", strides, spatial), ("dilations", dilations, spatial), ("pads", pads, 2 * spatial), ("kernel_shape", kernelShape, spatial)] {
      if let list, list.count != count {
        throw AttncError.invalid("'\(name)' has \(list.count) entries, expected \(count)")
      }
    }
  }
}

extension Array {
  subscript(safe index: Int) -> Element? { indices.contains(index) ? self[index] : nil }
}

/// `Conv(X, W, B?)`: N-D convolution. X `[N, C, D1…]`, W `[M, C/group, k1…]`; output spatial dim
/// `floor((in + pads - dilation·(k-1) - 1) / stride) + 1`, or `ceil(in / stride)` for SAME padding.
public struct Conv: Op {
  public internal(set) var geometry: ConvGeometry

  /// Begin pads per spatial axis (explicit, or derived from SAME padding when the dims are
  /// constant); nil when they depend on symbolic dims.
  public func beginPads(_ x: [Dim], _ w: [Dim], _ out: [Dim]) throws -> [Int]? {
    let spatial = x.count - 2
    switch geometry.autoPad {
    case "VALID": return [Int](repeating: 0, count: spatial)
    case "SAME_UPPER", "SAME_LOWER":
      var result: [Int] = []
      for i in 0..<spatial {
        guard let input = x[2 + i].value, let o = out[2 + i].value,
          let k = geometry.kernelShape?[safe: i] ?? w[2 + i].value
        else { return nil }
        let total = max(0, (o - 1) * geometry.stride(i) + (k - 1) * geometry.dilation(i) + 1 - input)
        result.append(geometry.autoPad == "SAME_UPPER" ? total / 2 : total - total / 2)
      }
      return result
    default:
      guard let pads = geometry.pads, pads.count == 2 * spatial else { return [Int](repeating: 0, count: spatial) }
      return Array(pads.prefix(spatial))
    }
  }

  public init(attributes: Attributes, opset: Int) throws {
    geometry = try ConvGeometry(attributes)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...3)
    let x = try inputs.required(0), w = try inputs.required(1)
    guard x.rank >= 3, w.rank == x.rank else {
      throw AttncError.invalid("X has rank \(x.rank) and W rank \(w.rank); both must be equal and ≥ 3")
    }
    let spatial = x.rank - 2
    try geometry.validate(spatial: spatial)
    if let c = x.dims[1].value, let wc = w.dims[1].value, c != wc * geometry.group {
      throw AttncError.invalid("X has \(c) channels but W expects \(wc) × group \(geometry.group)")
    }
    var dims: [Dim] = [x.dims[0], w.dims[0]]
    for i in 0..<spatial {
      let input = x.dims[2 + i]
      let s = geometry.stride(i)
      switch geometry.autoPad {
      case "SAME_UPPER", "SAME_LOWER":
        dims.append((input + Dim(s - 1)).floorDivided(by: s))
      default:
        let k = geometry.kernelShape?[safe: i].map { Dim($0) } ?? w.dims[2 + i]
        let pads = geometry.autoPad == "VALID" ? 0 : geometry.padSum(i, spatial: spatial)
        let span = input + Dim(pads) - Dim(geometry.dilation(i)) * (k - 1) - 1
        dims.append(span.floorDivided(by: s) + 1)
      }
    }
    return [TensorType(x.dtype, dims)]
  }
}
