import AttncTensor

/// The geometry a `Conv` or `ConvTranspose` call is fixed to at conversion.
public struct ConvolutionGeometry: Sendable, Equatable {
  public var strides: [Int]
  public var dilations: [Int]
  /// Padding before each spatial axis (explicit or resolved from `auto_pad`).
  public var padsBegin: [Int]
  public var group: Int
  /// The output's dims (symbolic; resolved per run).
  public var output: [Dim]

  public init(strides: [Int], dilations: [Int], padsBegin: [Int], group: Int, output: [Dim]) {
    self.strides = strides
    self.dilations = dilations
    self.padsBegin = padsBegin
    self.group = group
    self.output = output
  }

  init(_ parameters: KernelParameters) throws {
    self.init(
      strides: try parameters.ints("strides") ?? [], dilations: try parameters.ints("dilations") ?? [],
      padsBegin: try parameters.ints("pads_begin") ?? [], group: try parameters.int("group", default: 1),
      output: try parameters.dims("output"))
  }

  var parameters: [String: KernelParameter] {
    ["strides": .ints(strides.map { Int64($0) }), "dilations": .ints(dilations.map { Int64($0) }),
     "pads_begin": .ints(padsBegin.map { Int64($0) }), "group": .int(Int64(group)), "output": .dims(output)]
  }

  /// `values` when given for every spatial axis, else `fill` for each.
  func spatial(_ values: [Int], _ rank: Int, fill: Int) -> [Int] {
    values.count == rank ? values : [Int](repeating: fill, count: rank)
  }

  /// For `spatial` axes: strides, dilations and begin pads (defaults where not given) and the
  /// output's spatial dims under `context`'s bindings.
  func resolved(spatial: Int, _ context: KernelContext) throws
    -> (strides: [Int], dilations: [Int], padsBegin: [Int], outputSpatial: [Int])
  {
    (self.spatial(strides, spatial, fill: 1), self.spatial(dilations, spatial, fill: 1),
     self.spatial(padsBegin, spatial, fill: 0), Array(try context.resolve(output).dropFirst(2)))
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

/// A convolution call (`Conv`, `ConvTranspose`, `ConvInteger`, `QLinearConv`): its parameters
/// are one `ConvolutionGeometry`, encoded and decoded here once.
public protocol ConvolutionCall: KernelCall {
  var geometry: ConvolutionGeometry { get }
  init(geometry: ConvolutionGeometry)
}

extension ConvolutionCall {
  public init(name: String, parameters: KernelParameters) throws { self.init(geometry: try ConvolutionGeometry(parameters)) }
  public var parameters: [String: KernelParameter] { geometry.parameters }
}

/// `Conv` (any spatial rank, groups, dilations) by im2col and GEMM.
public struct ConvCall: ConvolutionCall {
  public static let names = ["Conv"]
  public let name = "Conv"
  public var geometry: ConvolutionGeometry

  public init(geometry: ConvolutionGeometry) { self.geometry = geometry }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    let g = try geometry.resolved(spatial: x.rank - 2, context)
    return [try Convolution.conv(
      x, try KernelCalls.input(inputs, 1), bias: KernelCalls.optional(inputs, 2), strides: g.strides,
      dilations: g.dilations, padsBegin: g.padsBegin, outputSpatial: g.outputSpatial, group: geometry.group)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost {
    KernelCost(flops: geometry.flops(shapes, transposed: false), bytes: KernelCost.streaming(shapes).bytes)
  }
}

/// `ConvTranspose` (any spatial rank, groups, dilations).
public struct ConvTransposeCall: ConvolutionCall {
  public static let names = ["ConvTranspose"]
  public let name = "ConvTranspose"
  public var geometry: ConvolutionGeometry

  public init(geometry: ConvolutionGeometry) { self.geometry = geometry }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try TransposedConvolution.convTranspose(
      KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), bias: KernelCalls.optional(inputs, 2),
      strides: geometry.strides, dilations: geometry.dilations, padsBegin: geometry.padsBegin,
      outputSpatial: Array(try context.resolve(geometry.output).dropFirst(2)), group: geometry.group)]
  }

  public func cost(_ shapes: KernelShapes) -> KernelCost {
    KernelCost(flops: geometry.flops(shapes, transposed: true), bytes: KernelCost.streaming(shapes).bytes)
  }
}

/// `Resize` with every ONNX mode and coordinate transformation.
public struct ResizeCall: KernelCall {
  public static let names = ["Resize"]
  public let name = "Resize"
  public var options: Resampling.Options
  /// Opset 10's form: input 1 is `scales` (no `roi`, no `sizes`).
  public var scalesOnly: Bool

  public init(options: Resampling.Options, scalesOnly: Bool) {
    self.options = options
    self.scalesOnly = scalesOnly
  }

  public init(name: String, parameters p: KernelParameters) throws {
    var options = Resampling.Options()
    options.mode = try p.string("mode")
    options.coordinateTransformation = try p.string("coordinate_transformation_mode")
    options.nearestMode = try p.string("nearest_mode")
    options.cubicCoefficient = Double(try p.float("cubic_coeff_a"))
    options.excludeOutside = try p.int("exclude_outside") != 0
    options.extrapolationValue = Double(try p.float("extrapolation_value"))
    options.antialias = try p.int("antialias") != 0
    options.keepAspectRatioPolicy = try p.string("keep_aspect_ratio_policy")
    options.axes = try p.ints("axes")
    self.init(options: options, scalesOnly: try p.int("scales_only", default: 0) != 0)
  }

  public var parameters: [String: KernelParameter] {
    var result: [String: KernelParameter] = [
      "mode": .string(options.mode), "coordinate_transformation_mode": .string(options.coordinateTransformation),
      "nearest_mode": .string(options.nearestMode), "cubic_coeff_a": .float(options.cubicCoefficient),
      "exclude_outside": options.excludeOutside.parameter, "extrapolation_value": .float(options.extrapolationValue),
      "antialias": options.antialias.parameter, "keep_aspect_ratio_policy": .string(options.keepAspectRatioPolicy),
      "scales_only": scalesOnly.parameter,
    ]
    if let axes = options.axes { result["axes"] = .ints(axes.map { Int64($0) }) }
    return result
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
