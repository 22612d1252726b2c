import AttncKernels
import AttncTensor

/// `Conv(X, W, B?)`: N-D cross-correlation over the spatial axes, in channel groups.
///
/// `X [N, C, D₁…Dₙ]`, `W [M, C/group, k₁…kₙ]`, `B [M]` → `Y [N, M, O₁…Oₙ]` with, per spatial
/// axis, `O = floor((D + pad_begin + pad_end - dilation·(k-1) - 1) / stride) + 1` (explicit pads,
/// `auto_pad = NOTSET`, or zero pads for `VALID`) or `O = ceil(D / stride)` for `SAME_UPPER` /
/// `SAME_LOWER` (the odd pad goes to the end or the beginning). Symbolic `D` stay exact.
public struct Conv: AttributedOp {
  /// Kernel, strides, dilations, pads and group.
  public internal(set) var geometry: ConvGeometry

  public init(attributes: Attributes, opset: Int) throws {
    geometry = try ConvGeometry(attributes)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    let (x, w, _) = try geometry.operands(inputs)
    if let b = inputs.optional(2) {
      try b.expectSameType(as: x, "B", "X")
    }
    return [TensorType(x.dtype, try outputDims(x, w, bias: inputs.optional(2)))]
  }

  /// `[N, M, O₁…Oₙ]` for X and W (and a bias of M elements), whatever their element types
  /// (shared with `ConvInteger` and `QLinearConv`).
  /// - Throws: ranks, channel counts or a bias that do not fit, naming them.
  func outputDims(_ x: ValueFact, _ w: ValueFact, bias: ValueFact?) throws -> [Dim] {
    let kernel = try geometry.kernel(x: x, w: w)
    let group = geometry.group
    _ = try DimCheck.unify(
      x.dims[1], w.dims[1] * Dim(group), "input channels and W's channels × group")
    let m = w.dims[0]
    if let value = m.value, value % group != 0 {
      throw AttncError.invalid("W's \(value) output channels are not divisible by group \(group)")
    }
    if let b = bias {
      try b.expectRank(1, "B")
      _ = try DimCheck.unify(b.dims[0], m, "B's length and W's output channels")
    }
    var dims: [Dim] = [x.dims[0], m]
    for i in kernel.indices {
      dims.append(try geometry.convolvedDim(x.dims[2 + i], kernel: kernel[i], axis: i))
    }
    return dims
  }

  /// Begin pads per spatial axis, explicit or derived from `SAME_*` padding:
  /// `total = max(0, (O-1)·stride + dilation·(k-1) + 1 - D)`, `SAME_UPPER` puts `total/2` first.
  /// Nil when `SAME_*` padding meets symbolic dims.
  /// - Parameters: `x`, `w`, `out`: the dims of X, W and Y.
  public func beginPads(_ x: [Dim], _ w: [Dim], _ out: [Dim]) throws -> [Int]? {
    geometry.beginPads(x, w, out) { i, input, o, k in
      max(0, (o - 1) * geometry.stride(i) + (k - 1) * geometry.dilation(i) + 1 - input)
    }
  }
}

/// Convolution geometry shared by `Conv` and `ConvTranspose`: `auto_pad`, `kernel_shape`,
/// `strides`, `dilations` (default 1), `pads` (`[x1_begin, x2_begin…, x1_end, x2_end…]`, default 0)
/// and `group` (default 1), parsed with the ONNX defaults.
public struct ConvGeometry: Sendable {
  /// The kernel call's geometry for `spatial` axes with the resolved padding.
  func call(spatial: Int, padsBegin: [Int], output: [Dim]) -> ConvolutionGeometry {
    ConvolutionGeometry(
      strides: (0..<spatial).map { stride($0) }, dilations: (0..<spatial).map { dilation($0) },
      padsBegin: padsBegin, group: group, output: output)
  }

  /// The `auto_pad` attribute.
  public enum AutoPad: String, Sendable {
    case notSet = "NOTSET"
    case sameUpper = "SAME_UPPER"
    case sameLower = "SAME_LOWER"
    case valid = "VALID"
  }

  public var autoPad: AutoPad
  public var kernelShape: [Int]?
  public var strides: [Int]?
  public var dilations: [Int]?
  public var pads: [Int]?
  public var group: Int

  /// - Throws: "attribute 'auto_pad' is 'X', not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID",
  ///   "attribute 'group' must be positive, got 0".
  init(_ attributes: Attributes) throws {
    let text = try attributes.string("auto_pad", default: "NOTSET")
    guard let autoPad = AutoPad(rawValue: text) else {
      throw AttncError.invalid(
        "attribute 'auto_pad' is '\(text)', not one of NOTSET, SAME_UPPER, SAME_LOWER, VALID")
    }
    self.autoPad = autoPad
    kernelShape = try attributes.ints("kernel_shape")
    strides = try attributes.ints("strides")
    dilations = try attributes.ints("dilations")
    pads = try attributes.ints("pads")
    group = try attributes.int("group", default: 1)
    guard group >= 1 else {
      throw AttncError.invalid("attribute 'group' must be positive, got \(group)")
    }
  }

  /// Stride of spatial axis `i` (1 when absent).
  public func stride(_ i: Int) -> Int { strides?[i] ?? 1 }
  /// Dilation of spatial axis `i` (1 when absent).
  public func dilation(_ i: Int) -> Int { dilations?[i] ?? 1 }
  /// Explicit begin pad of spatial axis `i` (0 when absent or `auto_pad` is set).
  func padBegin(_ i: Int) -> Int { autoPad == .notSet ? pads?[i] ?? 0 : 0 }
  /// Explicit end pad of spatial axis `i`.
  func padEnd(_ i: Int) -> Int {
    guard autoPad == .notSet, let pads else { return 0 }
    return pads[pads.count / 2 + i]
  }

  /// X and W of a convolution's two or three inputs, floats of one type, and the kernel dims
  /// (`kernel(x:w:)`).
  func operands(_ inputs: [ValueFact?]) throws -> (x: ValueFact, w: ValueFact, kernel: [Dim]) {
    try inputs.expectCount(2...3)
    let x = try inputs.required(0)
    let w = try inputs.required(1)
    try x.expectFloatingPoint("X")
    try w.expectSameType(as: x, "W", "X")
    return (x, w, try kernel(x: x, w: w))
  }

  /// Checks X and W's ranks and the attribute lengths and values; returns the kernel dims
  /// (`kernel_shape`, else W's spatial dims).
  /// - Throws: "input 'X' must have rank ≥ 3, got rank 2", "attribute 'strides' has 1 entries
  ///   for 2 spatial axes", "attribute 'strides' must be positive, got [0, 1]",
  ///   "attribute 'kernel_shape' [3, 3] and W's kernel dims [5, 5] differ".
  func kernel(x: ValueFact, w: ValueFact) throws -> [Dim] {
    guard x.rank >= 3 else {
      throw AttncError.invalid("input 'X' must have rank ≥ 3, got rank \(x.rank)")
    }
    try w.expectRank(x.rank, "W")
    let spatial = x.rank - 2
    let lists: [(String, [Int]?, Int, Int)] = [
      ("kernel_shape", kernelShape, spatial, 1), ("strides", strides, spatial, 1),
      ("dilations", dilations, spatial, 1), ("pads", pads, 2 * spatial, 0),
    ]
    for (name, list, count, minimum) in lists {
      guard let list else { continue }
      guard list.count == count else {
        throw AttncError.invalid(
          "attribute '\(name)' has \(list.count) entries for \(spatial) spatial axes")
      }
      guard list.allSatisfy({ $0 >= minimum }) else {
        let bound = minimum == 1 ? "positive" : "non-negative"
        throw AttncError.invalid("attribute '\(name)' must be \(bound), got \(list)")
      }
    }
    let weightKernel = Array(w.dims[2...])
    guard let kernelShape else { return weightKernel }
    let attribute = kernelShape.map { Dim($0) }
    for (a, b) in zip(attribute, weightKernel) where a != b && b.isConstant {
      throw AttncError.invalid(
        "attribute 'kernel_shape' \(kernelShape) and W's kernel dims "
          + "\(weightKernel.shapeDescription) differ")
    }
    return attribute
  }

  /// Begin pads per spatial axis: the explicit `pads` (`NOTSET`; 0 when absent), zeros
  /// (`VALID`), or for `SAME_UPPER` / `SAME_LOWER` the total padding `total(axis, D, O, k)`
  /// split with `⌊total/2⌋` first (`SAME_UPPER`) or last (`SAME_LOWER`). Nil when `SAME_*`
  /// padding needs a symbolic dim.
  /// - Parameters: `x`, `w`, `out`: the dims of X, W and Y.
  func beginPads(
    _ x: [Dim], _ w: [Dim], _ out: [Dim], total: (_ axis: Int, _ input: Int, _ output: Int, _ kernel: Int) -> Int
  ) -> [Int]? {
    let spatial = x.count - 2
    switch autoPad {
    case .valid: return [Int](repeating: 0, count: spatial)
    case .notSet: return (0..<spatial).map { padBegin($0) }
    case .sameUpper, .sameLower:
      var result: [Int] = []
      for i in 0..<spatial {
        guard let input = x[2 + i].value, let o = out[2 + i].value, let k = kernelShape?[i] ?? w[2 + i].value
        else { return nil }
        let padding = total(i, input, o, k)
        let half = Int((Double(padding) / 2).rounded(.down))
        result.append(autoPad == .sameUpper ? half : padding - half)
      }
      return result
    }
  }

  /// The node's kernel call (`call` of the geometry with the begin pads `beginPads` gives);
  /// nil when those need a symbolic dim. `weight`: W's input index (3 for `QLinearConv`).
  func lowering(
    _ context: NodeContext, weight: Int = 1, beginPads: ([Dim], [Dim], [Dim]) throws -> [Int]?,
    _ kind: ConvolutionCall.Kind
  ) throws -> Lowering? {
    guard let x = context.inputs.first ?? nil, let w = context.inputs.count > weight ? context.inputs[weight] : nil,
      let out = context.outputs.first ?? nil, let pads = try beginPads(x.dims, w.dims, out.dims)
    else { return nil }
    return Lowering(ConvolutionCall(kind, geometry: call(spatial: x.rank - 2, padsBegin: pads, output: out.dims)))
  }

  /// Conv output length of spatial axis `axis` for input length `input`.
  /// - Throws: "spatial axis 0: input 2 is shorter than the dilated kernel 3" when constant.
  func convolvedDim(_ input: Dim, kernel: Dim, axis: Int) throws -> Dim {
    let s = stride(axis)
    switch autoPad {
    case .sameUpper, .sameLower:
      return (input + Dim(s - 1)).floorDivided(by: s)
    case .notSet, .valid:
      let padded = input + Dim(padBegin(axis) + padEnd(axis))
      let span = Dim(dilation(axis)) * (kernel - 1) + 1
      if let p = padded.value, let k = span.value, p < k {
        throw AttncError.invalid(
          "spatial axis \(axis): padded input \(p) is shorter than the dilated kernel \(k)")
      }
      return (padded - span).floorDivided(by: s) + 1
    }
  }
}

extension Conv: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    try geometry.lowering(context, beginPads: beginPads, .conv)
  }
}
