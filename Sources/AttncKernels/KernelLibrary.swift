import AttncTensor

/// Everything a kernel call sees besides its inputs: parameters, the output count, and the
/// bindings of the plan's symbols (`batch`, `seq`) for this run.
public struct KernelContext: Sendable {
  public var parameters: KernelParameters
  public var outputCount: Int
  public var bindings: [String: Int]
  /// The interpreter's memory for output `index` of `count` floats, when it planned that output
  /// into its arena and the count matches the plan; nil otherwise.
  public var allocate: (@Sendable (_ index: Int, _ count: Int) -> FloatBuffer?)?

  public init(parameters: KernelParameters, outputCount: Int, bindings: [String: Int]) {
    self.parameters = parameters
    self.outputCount = outputCount
    self.bindings = bindings
  }

  /// Where float output `index` goes: planned arena memory, or a fresh array. Kernels that
  /// write their outputs through this are listed in `KernelLibrary.arenaOutputs`.
  public func output(_ index: Int = 0) -> FloatOutput {
    { count in allocate?(index, count) ?? FloatBuffer(uninitializedCount: count) }
  }

  /// Evaluates plan dims under the bindings.
  /// - Throws: "dim 'seq + 1' uses unbound symbols".
  public func resolve(_ dims: [Dim]) throws -> [Int] {
    try dims.map { dim in
      guard let value = dim.evaluate(bindings) else {
        throw AttncError.invalid("dim '\(dim)' uses unbound symbols")
      }
      return value
    }
  }
}

/// How a kernel uses memory, for the interpreter's arena plan.
public struct KernelMemory: Sendable {
  /// Float outputs the kernel writes into the buffer `KernelContext.output(k)` gives.
  public var outputs: Set<Int> = []
  /// Inputs output 0 may overwrite (elementwise: each element is read before it is written),
  /// when that input has output 0's size and is not used after this call.
  public var inPlace: [Int] = []
  /// Output 0 is input 0's elements under a new shape (no copy).
  public var view = false
  /// Every float output is written through `KernelContext.output` (Split).
  public var everyOutput = false

  /// Whether output `position` is written into given memory.
  public func writes(_ position: Int) -> Bool { everyOutput || outputs.contains(position) }

  public static let none = KernelMemory()
  public static let output = KernelMemory(outputs: [0])
  public static let elementwise = KernelMemory(outputs: [0], inPlace: [0, 1])
  public static let viewOfInput = KernelMemory(view: true)
}

/// A kernel: computes outputs from inputs (nil for an omitted optional input).
public typealias Kernel = @Sendable (KernelContext, [Tensor?]) throws -> [Tensor]

/// The kernels the interpreter can call, by the name instructions use.
public enum KernelLibrary {
  static func input(_ inputs: [Tensor?], _ index: Int) throws -> Tensor {
    guard index < inputs.count, let tensor = inputs[index] else {
      throw AttncError.invalid("input \(index) is missing")
    }
    return tensor
  }

  static let binaryOps = ["Add", "Sub", "Mul", "Div", "Pow", "Mod", "Equal", "Less", "LessOrEqual",
                          "Greater", "GreaterOrEqual", "And", "Or", "Xor"]
  static let unaryOps = ["Neg", "Abs", "Exp", "Log", "Sqrt", "Reciprocal", "Tanh", "Erf", "Sigmoid",
                         "Relu", "Sin", "Cos", "Floor", "Ceil", "Round", "Sign", "Softplus", "LeakyRelu",
                         "HardSigmoid", "HardSwish", "Mish", "Swish", "Gelu", "Not", "IsNaN"]

  /// How each kernel that takes part in the arena uses memory; kernels not listed return fresh
  /// arrays, which the interpreter keeps outside the arena.
  public static let memory: [String: KernelMemory] = {
    var table: [String: KernelMemory] = [:]
    for op in ["Add", "Sub", "Mul", "Div"] { table[op] = .elementwise }
    for op in ["Exp", "Erf", "Tanh", "Gelu"] { table[op] = KernelMemory(outputs: [0], inPlace: [0]) }
    table["Softmax"] = KernelMemory(outputs: [0], inPlace: [0])
    table["LayerNormalization"] = KernelMemory(outputs: [0], inPlace: [0])
    table["RMSNormalization"] = KernelMemory(outputs: [0], inPlace: [0])
    // FusedAttention: the exact kernel writes into the arena; the variants return arrays.
    for op in ["MatMul", "FusedMatMul", "PackedMatMul", "Transpose", "Gather", "FusedAttention"] { table[op] = .output }
    table["Split"] = KernelMemory(everyOutput: true)
    for op in ["Reshape", "Squeeze", "Unsqueeze", "Flatten", "Identity"] { table[op] = .viewOfInput }
    return table
  }()

  /// Every kernel by name.
  public static let kernels: [String: Kernel] = {
    var table: [String: Kernel] = [:]
    for op in binaryOps {
      table[op] = { context, inputs in
        [try Elementwise.binary(op, input(inputs, 0), input(inputs, 1), fmod: try context.parameters.int("fmod", default: 0) != 0, output: context.output(0))]
      }
    }
    for op in unaryOps {
      table[op] = { context, inputs in
        let p = context.parameters
        return [try Elementwise.unary(op, input(inputs, 0), alpha: try p.float("alpha", default: 0), beta: try p.float("beta", default: 0), approximate: try p.string("approximate", default: "none"), output: context.output(0))]
      }
    }
    for (op, pairwise) in [("Sum", "Add"), ("Max", "Max"), ("Min", "Min")] {
      table[op] = { _, inputs in
        var result = try input(inputs, 0)
        for k in 1..<max(inputs.count, 1) { result = try Elementwise.binary(pairwise, result, input(inputs, k)) }
        return [result]
      }
    }
    table["Identity"] = { _, inputs in [try input(inputs, 0)] }
    table["Where"] = { _, inputs in [try Elementwise.select(input(inputs, 0), input(inputs, 1), input(inputs, 2))] }
    table["Cast"] = { context, inputs in
      let p = context.parameters
      let mode = try p.string("round_mode", default: "up")
      guard let rounding = NarrowFloat.Rounding(rawValue: mode) else { throw AttncError.invalid("round_mode '\(mode)' is not one of up, down, nearest") }
      return [try Elementwise.cast(input(inputs, 0), to: DType(onnx: Int32(try p.int("to"))), saturate: try p.int("saturate", default: 1) != 0, rounding: rounding)]
    }
    table["Clip"] = { context, inputs in
      var x = try input(inputs, 0)
      let low = inputs.count > 1 ? inputs[1]?.floats.first : try context.parameters.floats("min")?.first
      let high = inputs.count > 2 ? inputs[2]?.floats.first : try context.parameters.floats("max")?.first
      if !x.isFloat {
        let lowInt = inputs.count > 1 ? inputs[1]?.ints.first : nil
        let highInt = inputs.count > 2 ? inputs[2]?.ints.first : nil
        x.ints = x.ints.map { v in min(max(v, lowInt ?? .min), highInt ?? .max) }
        return [x]
      }
      x.floats = FloatBuffer(x.floats.map { v in min(max(v, low ?? -.infinity), high ?? .infinity) })
      return [x]
    }
    table["IsInf"] = { context, inputs in
      let x = try input(inputs, 0)
      let positive = try context.parameters.int("detect_positive", default: 1) != 0
      let negative = try context.parameters.int("detect_negative", default: 1) != 0
      return [.int(x.floats.map { ($0 == .infinity && positive) || ($0 == -.infinity && negative) ? 1 : 0 }, x.shape, dtype: .bool)]
    }
    table["MatMul"] = { context, inputs in [try LinearAlgebra.matmul(input(inputs, 0), input(inputs, 1), output: context.output(0))] }
    table["FusedMatMul"] = { context, inputs in
      let p = context.parameters
      return [try LinearAlgebra.fusedMatMul(
        input(inputs, 0), input(inputs, 1), addends: try (2..<inputs.count).map { try input(inputs, $0) },
        alpha: try p.float("alpha", default: 1), activation: try p.string("activation", default: "none"),
        output: context.output(0))]
    }
    table["PackedMatMul"] = { context, inputs in
      let p = context.parameters
      return [try PackedGemm.multiply(
        input(inputs, 0), packed: input(inputs, 1), columns: try p.int("columns"),
        addends: try (2..<inputs.count).map { try input(inputs, $0) }, alpha: try p.float("alpha", default: 1),
        activation: try p.string("activation", default: "none"), output: context.output(0))]
    }
    table["Softmax"] = { context, inputs in
      let x = try input(inputs, 0)
      let axis = try context.parameters.int("axis")
      let coerce2D = try context.parameters.int("coerce2d", default: 0) != 0
      if let narrow = NarrowFloatArithmetic(x.dtype) { return [try narrow.softmax(x, axis: axis, coerce2D: coerce2D)] }
      return [try LinearAlgebra.softmax(x, axis: axis, coerce2D: coerce2D, output: context.output(0))]
    }
    table["LayerNormalization"] = { context, inputs in
      let p = context.parameters
      return try LinearAlgebra.layerNorm(input(inputs, 0), scale: input(inputs, 1), bias: inputs.count > 2 ? inputs[2] : nil, axis: try p.int("axis"), epsilon: try p.float("epsilon"), statistics: context.outputCount > 1, output: context.output(0))
    }
    table["RMSNormalization"] = { context, inputs in
      let p = context.parameters
      return try LinearAlgebra.layerNorm(input(inputs, 0), scale: input(inputs, 1), bias: nil, axis: try p.int("axis"), epsilon: try p.float("epsilon"), rms: true, output: context.output(0))
    }
    table["Reshape"] = { context, inputs in
      let x = try input(inputs, 0)
      let dims = try context.resolve(try context.parameters.dims("dims"))
      guard dims.reduce(1, *) == x.count else {
        throw AttncError.invalid("cannot reshape \(x.shape) into \(dims)")
      }
      return [x.reshaped(dims)]
    }
    table["ReshapeDynamic"] = { context, inputs in
      let x = try input(inputs, 0)
      let requested = try input(inputs, 1).ints.map { Int($0) }
      let allowZero = try context.parameters.int("allowzero", default: 0) != 0
      var dims = requested.enumerated().map { i, d in d == 0 && !allowZero && i < x.rank ? x.shape[i] : d }
      if let hole = dims.firstIndex(of: -1) {
        let known = dims.enumerated().filter { $0.offset != hole }.reduce(1) { $0 * $1.element }
        dims[hole] = known == 0 ? 0 : x.count / known
      }
      guard dims.reduce(1, *) == x.count else { throw AttncError.invalid("cannot reshape \(x.shape) into \(requested)") }
      return [x.reshaped(dims)]
    }
    table["SqueezeDynamic"] = { context, inputs in
      let axes = try context.parameters.ints("axes") ?? (inputs.count > 1 ? inputs[1]?.ints.map { Int($0) } : nil)
      return [try Movement.squeeze(input(inputs, 0), axes: axes)]
    }
    table["UnsqueezeDynamic"] = { context, inputs in
      let axes = try context.parameters.ints("axes") ?? input(inputs, 1).ints.map { Int($0) }
      return [try Movement.unsqueeze(input(inputs, 0), axes: axes)]
    }
    table["Dropout"] = { context, inputs in
      let ratio = (inputs.count > 1 ? inputs[1]?.floats.first : nil) ?? 0.5
      let training = (inputs.count > 2 ? inputs[2]?.ints.first : nil).map { $0 != 0 } ?? false
      let seed = try context.parameters.int("seed", default: Int.random(in: 0...Int(UInt32.max)))
      var random = MersenneTwister(seed: UInt64(truncatingIfNeeded: seed))
      let maskType = try DType(onnx: Int32(try context.parameters.int("mask_dtype", default: Int(DType.bool.rawValue))))
      let (output, mask) = try Elementwise.dropout(input(inputs, 0), ratio: ratio, training: training, maskType: maskType, random: &random)
      return Array([output, mask].prefix(max(1, context.outputCount)))
    }
    table["DimExpressions"] = { context, inputs in
      let values = try context.resolve(try context.parameters.dims("dims")).map { Int64($0) }
      let dtype = try DType(onnx: Int32(try context.parameters.int("dtype")))
      let scalar = try context.parameters.int("scalar", default: 0) != 0
      return [.int(values, scalar ? [] : [values.count], dtype: dtype)]
    }
    table["Shape"] = { context, inputs in
      let x = try input(inputs, 0)
      let start = try context.parameters.int("start", default: 0)
      let end = try context.parameters.int("end", default: x.rank)
      func clamp(_ v: Int) -> Int { min(max(v < 0 ? v + x.rank : v, 0), x.rank) }
      let dims = x.shape[clamp(start)..<max(clamp(start), clamp(end))].map { Int64($0) }
      return [.int(dims, [dims.count])]
    }
    table["Transpose"] = { context, inputs in
      [Movement.transpose(try input(inputs, 0), perm: try context.parameters.ints("perm") ?? [], output: context.output(0))]
    }
    table["Gather"] = { context, inputs in
      [try Movement.gather(input(inputs, 0), input(inputs, 1), axis: try context.parameters.int("axis"), output: context.output(0))]
    }
    table["GatherElements"] = { context, inputs in
      [try Movement.gatherElements(input(inputs, 0), input(inputs, 1), axis: try context.parameters.int("axis"))]
    }
    table["GatherND"] = { context, inputs in
      [try Movement.gatherND(input(inputs, 0), input(inputs, 1), batchDims: try context.parameters.int("batch_dims", default: 0))]
    }
    table["Concat"] = { context, inputs in
      [try Movement.concat(try inputs.indices.map { try input(inputs, $0) }, axis: try context.parameters.int("axis"))]
    }
    table["Expand"] = { _, inputs in
      [try Movement.expand(input(inputs, 0), to: try input(inputs, 1).ints.map { Int($0) })]
    }
    table["Tile"] = { _, inputs in
      [Movement.tile(try input(inputs, 0), repeats: try input(inputs, 1).ints.map { Int($0) })]
    }
    table["Slice"] = { context, inputs in
      let x = try input(inputs, 0)
      let p = context.parameters
      let starts = try p.ints("starts") ?? input(inputs, 1).ints.map { Int($0) }
      let ends = try p.ints("ends") ?? input(inputs, 2).ints.map { Int($0) }
      let axes = try p.ints("axes") ?? (inputs.count > 3 ? inputs[3]?.ints.map { Int($0) } : nil) ?? Array(0..<starts.count)
      let steps = (inputs.count > 4 ? inputs[4]?.ints.map { Int($0) } : nil) ?? [Int](repeating: 1, count: starts.count)
      var first = [Int](repeating: 0, count: x.rank)
      var counts = x.shape
      var strides = [Int](repeating: 1, count: x.rank)
      for (k, raw) in axes.enumerated() {
        let axis = try normalizedAxis(raw, rank: x.rank)
        guard steps[k] != 0 else { throw AttncError.invalid("slice step cannot be 0") }
        let clampedStart = Int(clamping: Int64(starts[k]))
        let (s, c) = Movement.clampSlice(start: clampedStart, end: ends[k], step: steps[k], dim: x.shape[axis])
        first[axis] = s
        counts[axis] = c
        strides[axis] = steps[k]
      }
      return [Movement.slice(x, starts: first, counts: counts, steps: strides)]
    }
    table["Split"] = { context, inputs in
      let x = try input(inputs, 0)
      let axis = try normalizedAxis(try context.parameters.int("axis", default: 0), rank: x.rank)
      var sizes = try context.parameters.ints("split") ?? (inputs.count > 1 ? inputs[1]?.ints.map { Int($0) } : nil)
      if sizes == nil {
        let parts = try context.parameters.int("num_outputs", default: context.outputCount)
        let chunk = (x.shape[axis] + parts - 1) / parts
        sizes = (0..<parts).map { max(0, min(chunk, x.shape[axis] - $0 * chunk)) }
      }
      return try Movement.split(x, axis: axis, sizes: sizes ?? [], output: context.output)
    }
    table["Range"] = { _, inputs in
      let start = try input(inputs, 0), limit = try input(inputs, 1), delta = try input(inputs, 2)
      if start.isFloat {
        let s = start.floats[0], l = limit.floats[0], d = delta.floats[0]
        guard d != 0 else { throw AttncError.invalid("delta is 0") }
        let n = max(0, Int(((l - s) / d).rounded(.up)))
        return [.float((0..<n).map { s + Float($0) * d }, [n], dtype: start.dtype)]
      }
      let s = start.ints[0], l = limit.ints[0], d = delta.ints[0]
      guard d != 0 else { throw AttncError.invalid("delta is 0") }
      let n = max(0, Int((Double(l - s) / Double(d)).rounded(.up)))
      return [.int((0..<n).map { s + Int64($0) * d }, [n], dtype: start.dtype)]
    }
    table["ConstantOfShape"] = { context, inputs in
      let shape = try input(inputs, 0).ints.map { Int($0) }
      let dtype = try DType(onnx: Int32(try context.parameters.int("dtype")))
      let n = shape.reduce(1, *)
      if dtype.isFloatingPoint {
        return [.float([Float](repeating: try context.parameters.float("value"), count: n), shape, dtype: dtype)]
      }
      return [.int([Int64](repeating: Int64(try context.parameters.int("value")), count: n), shape, dtype: dtype)]
    }
    for op in ["ReduceSum", "ReduceMean", "ReduceMax"] {
      table[op] = { context, inputs in
        let x = try input(inputs, 0)
        let p = context.parameters
        var axes = try p.ints("axes") ?? (inputs.count > 1 ? inputs[1]?.ints.map { Int($0) } : nil) ?? []
        if axes.isEmpty {
          if try p.int("noop_with_empty_axes", default: 0) != 0 { return [x] }
          axes = Array(0..<x.rank)
        }
        let normalized = Array(Set(try axes.map { try normalizedAxis($0, rank: x.rank) })).sorted()
        return [LinearAlgebra.reduce(op, x, axes: normalized, keepDims: try p.int("keepdims", default: 1) != 0)]
      }
    }
    table["CumSum"] = { context, inputs in
      let axis = Int(try input(inputs, 1).ints.first ?? 0)
      return [try LinearAlgebra.cumsum(input(inputs, 0), axis: axis, exclusive: try context.parameters.int("exclusive", default: 0) != 0, reverse: try context.parameters.int("reverse", default: 0) != 0)]
    }
    table["Trilu"] = { context, inputs in
      var x = try input(inputs, 0)
      let k = inputs.count > 1 ? Int(inputs[1]?.ints.first ?? 0) : 0
      let upper = try context.parameters.int("upper", default: 1) != 0
      let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
      for flat in 0..<x.count {
        let j = flat % max(cols, 1), i = (flat / max(cols, 1)) % max(rows, 1)
        if upper ? j - i < k : j - i > k {
          if x.isFloat { x.floats[flat] = 0 } else { x.ints[flat] = 0 }
        }
      }
      return [x]
    }
    table["Conv"] = { context, inputs in
      let x = try input(inputs, 0)
      let p = context.parameters
      let spatial = x.rank - 2
      return [try Convolution.conv(
        x, try input(inputs, 1), bias: inputs.count > 2 ? inputs[2] : nil,
        strides: try p.ints("strides") ?? [Int](repeating: 1, count: spatial),
        dilations: try p.ints("dilations") ?? [Int](repeating: 1, count: spatial),
        padsBegin: try p.ints("pads_begin") ?? [Int](repeating: 0, count: spatial),
        outputSpatial: Array(try context.resolve(try p.dims("output")).dropFirst(2)),
        group: try p.int("group", default: 1))]
    }
    table["ConvTranspose"] = { context, inputs in
      let p = context.parameters
      return [try TransposedConvolution.convTranspose(
        input(inputs, 0), input(inputs, 1), bias: inputs.count > 2 ? inputs[2] : nil,
        strides: try p.ints("strides") ?? [], dilations: try p.ints("dilations") ?? [],
        padsBegin: try p.ints("pads_begin") ?? [],
        outputSpatial: Array(try context.resolve(try p.dims("output")).dropFirst(2)),
        group: try p.int("group", default: 1))]
    }
    table["Resize"] = { context, inputs in
      let p = context.parameters
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
      // A given input that is empty counts as absent.
      func given(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i].flatMap { $0.count > 0 ? $0 : nil } : nil }
      let scalesOnly = try p.int("scales_only", default: 0) != 0
      let roi = scalesOnly ? nil : given(1)?.floats.map(Double.init)
      let scales = given(scalesOnly ? 1 : 2)?.floats.map(Double.init)
      let sizes = scalesOnly ? nil : given(3)?.ints.map { Int($0) }
      return [try Resampling.resize(input(inputs, 0), roi: roi, scales: sizes == nil ? scales : nil, sizes: sizes, options: options)]
    }
    table["Einsum"] = { context, inputs in
      let labels = try context.parameters.ints("labels") ?? []
      let ranks = try context.parameters.ints("ranks") ?? []
      var terms: [[Int]] = []
      var start = 0
      for rank in ranks { terms.append(Array(labels[start..<(start + rank)])); start += rank }
      return [try EinsumContraction.evaluate(try inputs.indices.map { try input(inputs, $0) }, terms: terms, output: try context.parameters.ints("output") ?? [])]
    }
    table["BatchNormalization"] = { context, inputs in
      let p = context.parameters
      let x = try input(inputs, 0), scale = try input(inputs, 1), bias = try input(inputs, 2)
      let mean = try input(inputs, 3), variance = try input(inputs, 4)
      let epsilon = try p.float("epsilon")
      if try p.int("training", default: 0) != 0 {
        return try ChannelNormalization.training(x, scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon, momentum: try p.float("momentum"))
      }
      return [try ChannelNormalization.inference(x, scale: scale, bias: bias, mean: mean, variance: variance, epsilon: epsilon)]
    }
    table["Attention"] = { context, inputs in
      let p = context.parameters
      func optional(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }
      let heads = try p.int("q_num_heads", default: 0), kvHeads = try p.int("kv_num_heads", default: 0)
      let scale = try p.float("scale", default: 0)
      return try AttentionReference.run(
        q: input(inputs, 0), k: input(inputs, 1), v: input(inputs, 2), mask: optional(3),
        pastKey: optional(4), pastValue: optional(5), nonpad: optional(6),
        options: .init(qHeads: heads > 0 ? heads : nil, kvHeads: kvHeads > 0 ? kvHeads : nil,
                       scale: scale > 0 ? scale : nil, causal: try p.int("is_causal", default: 0) != 0,
                       softcap: try p.float("softcap", default: 0), qkMode: try p.int("qk_matmul_output_mode", default: 0),
                       leftWindow: try p.int("left_window_size", default: -1), rightWindow: try p.int("right_window_size", default: -1)))
    }
    table["RotaryEmbedding"] = { context, inputs in
      let p = context.parameters
      return [try RotaryEmbeddingKernel.run(
        input(inputs, 0), cos: input(inputs, 1), sin: input(inputs, 2), positions: inputs.count > 3 ? inputs[3] : nil,
        interleaved: try p.int("interleaved", default: 0) != 0, rotaryDim: try p.int("rotary_embedding_dim", default: 0),
        numHeads: try p.int("num_heads", default: 0))]
    }
    table["LinearAttention"] = { context, inputs in
      let p = context.parameters
      func optional(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }
      let options = LinearAttentionKernel.Options(
        qHeads: try p.int("q_num_heads"), kvHeads: try p.int("kv_num_heads"), scale: try p.float("scale", default: 0),
        decays: try p.int("decays") != 0, correctsDelta: try p.int("corrects_delta") != 0)
      return try LinearAttentionKernel.run(
        query: input(inputs, 0), key: input(inputs, 1), value: input(inputs, 2), pastState: optional(3),
        decay: optional(4), beta: optional(5), options: options)
    }
    table["FusedAttention"] = { context, inputs in
      let p = context.parameters
      let (definition, parameters) = try AttentionVariants.of(kernelParameters: p.values, keys: try input(inputs, 1).shape.dropLast().last ?? 0)
      let mask: TiledAttention.Mask
      switch try p.string("mask", default: "none") {
      case "none": mask = .none
      case "key_padding": mask = .keyPadding(try input(inputs, 3), fill: try p.float("mask_fill"))
      case "additive_bias": mask = .bias(try input(inputs, 3))
      case "key_weights": mask = .keyWeights(try input(inputs, 3))
      case let other: throw AttncError.invalid("unknown attention mask kind '\(other)'")
      }
      var options = TiledAttention.Options(
        scale: try p.float("scale"), causal: try p.int("causal", default: 0) != 0, softcap: try p.float("softcap", default: 0))
      options.causalFill = try p.float("causal_fill", default: -.infinity)
      options.zeroNaNRows = try p.int("zero_nan_rows", default: 0) != 0
      guard definition.kernel != nil else {
        return [try TiledAttention.run(
          q: input(inputs, 0), k: input(inputs, 1), v: input(inputs, 2), mask: mask, options: options, output: context.output(0))]
      }
      return [try VariantAttention.run(
        definition, parameters: parameters, q: input(inputs, 0), k: input(inputs, 1), v: input(inputs, 2), mask: mask,
        scale: options.scale, causal: options.causal)]
    }
    table["TokenMerge"] = { context, inputs in
      func optional(_ i: Int) -> Tensor? { i < inputs.count ? inputs[i] : nil }
      return try TokenMergeKernel.merge(
        x: input(inputs, 0), keys: input(inputs, 1), sizes: optional(2), origin: optional(3), padding: optional(4),
        r: try context.parameters.int("r"), protectFirst: try context.parameters.int("protect_first", default: 1) != 0)
    }
    table["TokenUnmerge"] = { _, inputs in [try TokenMergeKernel.unmerge(y: input(inputs, 0), origin: input(inputs, 1))] }
    table["Size"] = { _, inputs in [.int([Int64(try input(inputs, 0).count)], [])] }
    return table.mapValues(roundingOutputs)
  }()

  /// `kernel` with its outputs rounded to their element types (`Tensor.roundedToDType`), so a
  /// narrow float result (float16, bfloat16, float8, float4) holds what the ONNX op would store.
  static func roundingOutputs(_ kernel: @escaping Kernel) -> Kernel {
    { context, inputs in try kernel(context, inputs).map { $0.roundedToDType() } }
  }
}
