import AttncTensor

/// The geometry a `Conv` or `ConvTranspose` call is fixed to at conversion.
public struct ConvolutionGeometry: Sendable, Equatable, Codable {
  public var strides: [Int]
  public var dilations: [Int]
  /// Padding before each spatial axis (explicit or resolved from `auto_pad`).
  public var padsBegin: [Int]
  public var group: Int
  /// The output's dims (symbolic; resolved per run).
  public var output: [Dim]
  enum CodingKeys: String, CodingKey { case strides, dilations, padsBegin = "pads_begin", group, output }

  public init(strides: [Int], dilations: [Int], padsBegin: [Int], group: Int, output: [Dim]) {
    self.strides = strides
    self.dilations = dilations
    self.padsBegin = padsBegin
    self.group = group
    self.output = output
  }

  /// `values` when given for every spatial axis, else `fill` for each.
  func spatial(_ values: [Int], _ rank: Int, fill: Int) -> [Int] {
    values.count == rank ? values : [Int](repeating: fill, count: rank)
  }

  /// The window for `spatial` axes: strides, dilations and begin pads (defaults where not
  /// given) and the output's spatial dims under `context`'s bindings.
  func window(spatial: Int, _ context: KernelContext) throws -> ConvolutionWindow {
    ConvolutionWindow(
      strides: self.spatial(strides, spatial, fill: 1), dilations: self.spatial(dilations, spatial, fill: 1),
      padsBegin: self.spatial(padsBegin, spatial, fill: 0), outputSpatial: Array(try context.resolve(output).dropFirst(2)),
      group: group)
  }

  /// 2 FLOPs per multiply-add: output elements × (input channels / group) × kernel points.
  func flops(_ shapes: KernelShapes, transposed: Bool) -> Double {
    guard let x = shapes.inputs.first ?? nil, shapes.inputs.count > 1, let w = shapes.inputs[1], x.count >= 2, w.count >= 2 else { return 0 }
    let kernelPoints = Double(w.dropFirst(2).reduce(1, *))
    if transposed {
      // Every input element scatters into C_out/group channels × kernel points.
      return 2 * shapes.inputElements(0) * Double(w[1]) * kernelPoints
    }
    return 2 * shapes.outputElements(0) * Double(w[1]) * kernelPoints
  }
}

/// A convolution (`Conv` and `ConvTranspose` in float, `ConvInteger` and `QLinearConv` on
/// 8-bit integers; any spatial rank, groups, dilations): its parameters are one
/// `ConvolutionGeometry` (encoded and decoded as a `CodableKernelCall`), its name says which
/// kernel runs.
public struct ConvolutionCall: CodableKernelCall {
  public enum Kind: String, CaseIterable, Sendable {
    /// `Conv` by im2col and GEMM.
    case conv = "Conv"
    /// `ConvTranspose`.
    case transposed = "ConvTranspose"
    /// `ConvInteger` (`QuantizedGemm.convInteger`).
    case integer = "ConvInteger"
    /// `QLinearConv` (`QuantizedGemm.qlinearConv`).
    case qlinear = "QLinearConv"
  }

  public static let names = Kind.allCases.map(\.rawValue)
  public var name: String
  public var geometry: ConvolutionGeometry

  public init(_ kind: Kind, geometry: ConvolutionGeometry) {
    name = kind.rawValue
    self.geometry = geometry
  }

  public var kind: Kind { Kind(rawValue: name) ?? .conv }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    let window = try geometry.window(spatial: x.rank - 2, context)
    switch kind {
    case .conv:
      return [try Convolution.conv(x, try KernelCalls.input(inputs, 1), bias: KernelCalls.optional(inputs, 2), window: window)]
    case .transposed:
      return [try TransposedConvolution.convTranspose(
        x, KernelCalls.input(inputs, 1), bias: KernelCalls.optional(inputs, 2), window: window)]
    case .integer:
      return [try QuantizedGemm.convInteger(
        x, try KernelCalls.input(inputs, 1), xZero: KernelCalls.optional(inputs, 2), wZero: KernelCalls.optional(inputs, 3),
        window: window)]
    case .qlinear:
      let q = try (0..<8).map { try KernelCalls.input(inputs, $0) }
      return [try QuantizedGemm.qlinearConv(
        q[0], xScale: q[1], xZero: q[2], q[3], wScale: q[4], wZero: q[5], yScale: q[6], yZero: q[7],
        bias: KernelCalls.optional(inputs, 8), window: window)]
    }
  }

  /// The products' FLOPs (`ConvolutionGeometry.flops`; `QLinearConv` reads X and W at inputs 0
  /// and 3) and the streamed operands.
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    var shapes = shapes
    if kind == .qlinear { shapes.inputs = [shapes.inputs[0], shapes.inputs[3]] }
    return KernelCost(flops: geometry.flops(shapes, transposed: kind == .transposed), bytes: KernelCost.streaming(shapes).bytes)
  }
}

/// `Resize` with every ONNX mode and coordinate transformation.
public struct ResizeCall: CodableKernelCall {
  public var options: Resampling.Options
  /// Opset 10's form: input 1 is `scales` (no `roi`, no `sizes`).
  public var scalesOnly: Bool
  enum CodingKeys: String, CodingKey { case options, scalesOnly = "scales_only" }

  public init(options: Resampling.Options, scalesOnly: Bool) {
    self.options = options
    self.scalesOnly = scalesOnly
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    // A given input that is empty counts as absent.
    func given(_ i: Int) -> Tensor? { KernelCalls.optional(inputs, i).flatMap { $0.count > 0 ? $0 : nil } }
    let roi = scalesOnly ? nil : given(1)?.floats.map(Double.init)
    let scales = given(scalesOnly ? 1 : 2)?.floats.map(Double.init)
    let sizes = scalesOnly ? nil : given(3)?.ints.map { Int($0) }
    return [try Resampling.resize(KernelCalls.input(inputs, 0), roi: roi, scales: sizes == nil ? scales : nil, sizes: sizes, options: options)]
  }
}

/// attnc's `PackedConvolution`: a `Conv` or `ConvTranspose` of one group on the packed GEMM, its
/// filter stored at conversion as the product's rows (`ConvolutionGemm`), float32 or bfloat16.
public struct PackedConvolutionCall: CodableKernelCall {
  public var geometry: ConvolutionGeometry
  /// `ConvTranspose` (else `Conv`).
  public var transposed: Bool
  /// The filter's ONNX shape: `[M, C, K…]` (Conv) or `[C, M, K…]` (ConvTranspose).
  public var weightShape: [Int]
  public var precision: LinearPrecision
  /// `Relu` on each output as it is stored.
  public var relu: Bool
  enum CodingKeys: String, CodingKey { case geometry, transposed, weightShape = "weight_shape", precision, relu }

  public init(geometry: ConvolutionGeometry, transposed: Bool, weightShape: [Int], precision: LinearPrecision, relu: Bool = false) {
    (self.geometry, self.transposed, self.weightShape, self.precision) = (geometry, transposed, weightShape, precision)
    self.relu = relu
  }

  public init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: CodingKeys.self)
    geometry = try c.decode(ConvolutionGeometry.self, forKey: .geometry)
    transposed = try c.decode(Bool.self, forKey: .transposed)
    weightShape = try c.decode([Int].self, forKey: .weightShape)
    precision = try c.decode(LinearPrecision.self, forKey: .precision)
    relu = try c.decodeIfPresent(Bool.self, forKey: .relu) ?? false
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0), rows = try KernelCalls.input(inputs, 1)
    return [try ConvolutionGemm.run(
      x, rows: rows, weightShape: weightShape, transposed: transposed, bias: KernelCalls.optional(inputs, 2),
      window: try geometry.window(spatial: x.rank - 2, context), precision: precision, relu: relu)]
  }

  /// The product `[rows, depth] × [depth, positions]` (positions: the output's, or the input's
  /// when transposed) at the precision's rate, and the streamed bytes.
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    let (rows, depth) = ConvolutionGemm.productDims(weightShape: weightShape, transposed: transposed)
    let positions = (transposed ? shapes.inputs.first??.dropFirst(2) : shapes.outputs.first?.dropFirst(2))?.reduce(1, *) ?? 1
    let batch = shapes.inputs.first??.first ?? 1
    return KernelCost(
      flops: 2 * Double(batch * rows * depth * positions), bytes: KernelCost.streaming(shapes).bytes,
      product: .init(m: rows, n: batch * positions, k: depth, precision: precision))
  }
}
