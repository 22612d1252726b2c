import AttncTensor

/// `Transpose` by a full permutation.
public struct TransposeCall: CodableKernelCall {
  public var perm: [Int]

  public init(perm: [Int]) { self.perm = perm }
  public var memory: KernelMemory { .output }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [Movement.transpose(try KernelCalls.input(inputs, 0), perm: perm, output: context.output(0))]
  }
}

/// `Gather` (whole slices along `axis`) or `GatherElements` (one element per index along `axis`).
public struct GatherCall: CodableKernelCall {
  public static let names = ["Gather", "GatherElements"]
  public var name: String
  public var axis: Int

  public init(axis: Int, elements: Bool = false) {
    name = Self.names[elements ? 1 : 0]
    self.axis = axis
  }

  /// `GatherElements` rather than `Gather`.
  public var elements: Bool { name == "GatherElements" }
  public var memory: KernelMemory { elements ? .none : .output }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let data = try KernelCalls.input(inputs, 0), indices = try KernelCalls.input(inputs, 1)
    if elements { return [try Movement.gatherElements(data, indices, axis: axis)] }
    return [try Movement.gather(data, indices, axis: axis, output: context.output(0))]
  }

  /// The gathered rows (or elements) and the indices are read, the output written: a constant
  /// table (an embedding) is read only where gathered.
  public func cost(_ shapes: KernelShapes) -> KernelCost {
    KernelCost(bytes: 4 * (2 * shapes.outputElements(0) + shapes.inputElements(1)))
  }
}

/// `GatherND` with `batchDims` leading batch axes.
public struct GatherNDCall: CodableKernelCall {
  public var batchDims: Int
  enum CodingKeys: String, CodingKey { case batchDims = "batch_dims" }

  public init(batchDims: Int) { self.batchDims = batchDims }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Movement.gatherND(KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), batchDims: batchDims)]
  }
}

/// `ScatterND` with its `reduction`.
public struct ScatterNDCall: CodableKernelCall {
  public var reduction: Movement.ScatterReduction

  public init(reduction: Movement.ScatterReduction) { self.reduction = reduction }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Movement.scatterND(KernelCalls.input(inputs, 0), KernelCalls.input(inputs, 1), KernelCalls.input(inputs, 2), reduction: reduction)]
  }
}

/// `Concat` along `axis`.
public struct ConcatCall: CodableKernelCall {
  public var axis: Int

  public init(axis: Int) { self.axis = axis }
  public var memory: KernelMemory { .output }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Movement.concat(try KernelCalls.inputs(inputs, from: 0), axis: axis, output: context.output(0))]
  }
}

/// `Expand` to the shape input 1 gives (bidirectional broadcasting).
public struct ExpandCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Movement.expand(KernelCalls.input(inputs, 0), to: try KernelCalls.input(inputs, 1).ints.map { Int($0) })]
  }
}

/// `Tile` by the repeats input 1 gives.
public struct TileCall: CodableKernelCall {
  public init() {}

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [Movement.tile(try KernelCalls.input(inputs, 0), repeats: try KernelCalls.input(inputs, 1).ints.map { Int($0) })]
  }
}

/// `Slice`: bounds from attributes (opset < 10) or from inputs 1–4.
public struct SliceCall: CodableKernelCall {
  /// The attribute form's starts, ends and axes; nil when they come from inputs.
  public var starts: [Int]?
  public var ends: [Int]?
  public var axes: [Int]?

  public init(starts: [Int]?, ends: [Int]?, axes: [Int]?) {
    self.starts = starts
    self.ends = ends
    self.axes = axes
  }

  public var memory: KernelMemory { .output }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    let starts = try self.starts ?? KernelCalls.input(inputs, 1).ints.map { Int($0) }
    let ends = try self.ends ?? KernelCalls.input(inputs, 2).ints.map { Int($0) }
    let axes = self.axes ?? KernelCalls.optional(inputs, 3)?.ints.map { Int($0) } ?? Array(0..<starts.count)
    let steps = KernelCalls.optional(inputs, 4)?.ints.map { Int($0) } ?? [Int](repeating: 1, count: starts.count)
    guard ends.count == starts.count, axes.count == starts.count, steps.count == starts.count else {
      throw AttncError.invalid("slice starts, ends, axes and steps differ in length")
    }
    var first = [Int](repeating: 0, count: x.rank)
    var counts = x.shape
    var strides = [Int](repeating: 1, count: x.rank)
    for (k, raw) in axes.enumerated() {
      let axis = try normalizedAxis(raw, rank: x.rank)
      guard steps[k] != 0 else { throw AttncError.invalid("slice step cannot be 0") }
      let (s, c) = Movement.clampSlice(start: starts[k], end: ends[k], step: steps[k], dim: x.shape[axis])
      first[axis] = s
      counts[axis] = c
      strides[axis] = steps[k]
    }
    return [Movement.slice(x, starts: first, counts: counts, steps: strides, output: context.output(0))]
  }
}

/// `Split` along `axis` into the sizes given (attribute or input 1) or `numOutputs` equal parts.
public struct SplitCall: CodableKernelCall {
  public var axis: Int
  public var sizes: [Int]?
  public var numOutputs: Int?
  enum CodingKeys: String, CodingKey { case axis, sizes = "split", numOutputs = "num_outputs" }

  public init(axis: Int, sizes: [Int]?, numOutputs: Int?) {
    self.axis = axis
    self.sizes = sizes
    self.numOutputs = numOutputs
  }

  public var memory: KernelMemory { KernelMemory(everyOutput: true) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    let axis = try normalizedAxis(axis, rank: x.rank)
    var sizes = self.sizes ?? KernelCalls.optional(inputs, 1)?.ints.map { Int($0) }
    if sizes == nil {
      let parts = max(1, numOutputs ?? context.outputCount)
      let chunk = (x.shape[axis] + parts - 1) / parts
      sizes = (0..<parts).map { max(0, min(chunk, x.shape[axis] - $0 * chunk)) }
    }
    return try Movement.split(x, axis: axis, sizes: sizes ?? [], output: context.output)
  }
}

/// `Trilu`: zeros above (`upper` false) or below the `k`-th diagonal of the last two axes.
public struct TriluCall: CodableKernelCall {
  public var upper: Bool

  public init(upper: Bool) { self.upper = upper }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    var x = try KernelCalls.input(inputs, 0)
    guard x.rank >= 2 else { throw AttncError.invalid("Trilu needs rank ≥ 2, got \(x.shape)") }
    let k = Int(KernelCalls.optional(inputs, 1)?.ints.first ?? 0)
    let rows = x.shape[x.rank - 2], cols = x.shape[x.rank - 1]
    for flat in 0..<x.count {
      let j = flat % max(cols, 1), i = (flat / max(cols, 1)) % max(rows, 1)
      if upper ? j - i < k : j - i > k {
        if x.isFloat { x.floats[flat] = 0 } else { x.ints[flat] = 0 }
      }
    }
    return [x]
  }
}

/// `CumSum` along the axis input 1 gives.
public struct CumSumCall: CodableKernelCall {
  public var exclusive: Bool
  public var reverse: Bool

  public init(exclusive: Bool, reverse: Bool) { (self.exclusive, self.reverse) = (exclusive, reverse) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let axis = Int(try KernelCalls.input(inputs, 1).ints.first ?? 0)
    return [try LinearAlgebra.cumsum(KernelCalls.input(inputs, 0), axis: axis, exclusive: exclusive, reverse: reverse)]
  }
}

/// `ReduceSum`, `ReduceMean`, `ReduceMax` over axes from the attribute or input 1.
public struct ReduceCall: CodableKernelCall {
  public static let names = ["ReduceSum", "ReduceMean", "ReduceMax", "ReduceL1", "ReduceL2", "ReduceSumSquare"]
  public var name: String
  public var axes: [Int]?
  public var keepDims: Bool
  public var noopWithEmptyAxes: Bool
  enum CodingKeys: String, CodingKey { case name, axes, keepDims = "keepdims", noopWithEmptyAxes = "noop_with_empty_axes" }

  public init(_ name: String, axes: [Int]?, keepDims: Bool, noopWithEmptyAxes: Bool) {
    self.name = name
    self.axes = axes
    self.keepDims = keepDims
    self.noopWithEmptyAxes = noopWithEmptyAxes
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    var axes = self.axes ?? KernelCalls.optional(inputs, 1)?.ints.map { Int($0) } ?? []
    if axes.isEmpty {
      if noopWithEmptyAxes { return [x] }
      axes = Array(0..<x.rank)
    }
    let normalized = Array(Set(try axes.map { try normalizedAxis($0, rank: x.rank) })).sorted()
    return [LinearAlgebra.reduce(name, x, axes: normalized, keepDims: keepDims)]
  }
}

/// `Pad` in `mode`: the pads and value from the attributes (opsets 2–10) or inputs 1–3.
public struct PadCall: CodableKernelCall {
  public var mode: String
  /// The attribute form's pads (begins, then ends); nil when they come from input 1.
  public var pads: [Int]?
  /// The attribute form's constant; input 2 overrides it.
  public var value: Float

  public init(mode: String, pads: [Int]?, value: Float) {
    self.mode = mode
    self.pads = pads
    self.value = value
  }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    let x = try KernelCalls.input(inputs, 0)
    guard let mode = Movement.PadMode(rawValue: mode) else { throw AttncError.invalid("unknown Pad mode '\(mode)'") }
    let pads = try self.pads ?? KernelCalls.input(inputs, 1).ints.map { Int($0) }
    let axes = try KernelCalls.optional(inputs, 3)?.ints.map { try normalizedAxis(Int($0), rank: x.rank) } ?? Array(0..<x.rank)
    guard pads.count == 2 * axes.count else { throw AttncError.invalid("pads has \(pads.count) entries for \(axes.count) axes") }
    var (before, after) = ([Int](repeating: 0, count: x.rank), [Int](repeating: 0, count: x.rank))
    for (k, axis) in axes.enumerated() {
      before[axis] = pads[k]
      after[axis] = pads[k + axes.count]
    }
    var fill = Double(value)
    if let constant = KernelCalls.optional(inputs, 2), constant.count > 0 {
      fill = constant.isFloat ? Double(constant.floats[0]) : Double(constant.ints[0])
    }
    return [try Movement.pad(x, before: before, after: after, mode: mode, value: fill)]
  }
}
