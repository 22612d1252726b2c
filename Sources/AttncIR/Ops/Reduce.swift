import AttncTensor

/// `ReduceSum`, `ReduceMean`, `ReduceMax` over `axes` (all axes when absent, unless
/// `noop_with_empty_axes`), keeping reduced axes as size 1 when `keepdims` (default 1).
/// Axes are an attribute before opset 13 (ReduceSum) or 18 (ReduceMean, ReduceMax), an input after.
public struct Reduce: Op, Evaluable {
  public enum Function: String, Sendable, CaseIterable {
    case sum = "ReduceSum", mean = "ReduceMean", max = "ReduceMax"

    /// First opset that takes axes as an input.
    var axesInputSince: Int { self == .sum ? 13 : 18 }
  }

  public var function: Function
  public var keepDims: Bool
  public var noopWithEmptyAxes: Bool
  public var axesAttribute: [Int]?
  public var axesFromInput: Bool
  private let fresh = DataDependentDims("reduce")

  public init(_ function: Function, attributes: Attributes, opset: Int) throws {
    self.function = function
    keepDims = try attributes.int("keepdims", default: 1) != 0
    noopWithEmptyAxes = try attributes.int("noop_with_empty_axes", default: 0) != 0
    axesFromInput = opset >= function.axesInputSince
    axesAttribute = axesFromInput ? nil : try attributes.ints("axes")
  }

  func axes(_ inputs: [ValueFact?], rank: Int) throws -> [Int] {
    var axes = axesAttribute ?? []
    if axesFromInput, let fact = inputs.optional(1) {
      guard let ints = fact.constantInts else { throw AttncError.unsupported("axes must be a constant") }
      axes = ints
    }
    if axes.isEmpty { return noopWithEmptyAxes ? [] : Array(0..<rank) }
    let normalized = try axes.map { try Shapes.normalize(axis: $0, rank: rank) }
    return Array(Set(normalized)).sorted()
  }

  func outputDims(_ dims: [Dim], axes: [Int]) -> [Dim] {
    var result: [Dim] = []
    for (i, d) in dims.enumerated() {
      if axes.contains(i) {
        if keepDims { result.append(1) }
      } else {
        result.append(d)
      }
    }
    return result
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...2)
    let x = try inputs.required(0)
    if axesFromInput, let given = inputs.optional(1), given.constantInts == nil {
      // Axes arrive at run time: the rank is known, the dims are not.
      guard let count = given.dims.first?.value else { throw AttncError.unsupported("axes length unknown") }
      let rank = keepDims ? x.rank : (count == 0 ? (noopWithEmptyAxes ? x.rank : 0) : x.rank - count)
      return [TensorType(x.dtype, (0..<rank).map { fresh.dim($0) })]
    }
    return [TensorType(x.dtype, outputDims(x.dims, axes: try axes(inputs, rank: x.rank)))]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let facts: [ValueFact?] = inputs.map { t in t.map { ValueFact(type: TensorType($0.dtype, $0.shape.map { Dim($0) }), constant: $0) } }
    let axes = try axes(facts, rank: x.rank)
    let shape = try concreteDims(outputDims(x.shape.map { Dim($0) }, axes: axes))
    let keptShape = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    let outStrides = ElementPicking.strides(keptShape)
    let count = keptShape.reduce(1, *)
    let values = x.doubles()
    var acc = [Double](repeating: function == .max ? -.infinity : 0, count: count)
    var k = 0
    ElementPicking.forEachIndex(x.shape) { index in
      var flat = 0
      for axis in index.indices where !axes.contains(axis) { flat += index[axis] * outStrides[axis] }
      switch function {
      case .max: acc[flat] = Swift.max(acc[flat], values[k])
      default: acc[flat] += values[k]
      }
      k += 1
    }
    if function == .mean {
      let n = Double(axes.reduce(1) { $0 * x.shape[$1] })
      acc = acc.map { $0 / n }
    }
    return [HostTensor(dtype: x.dtype, shape: shape, converting: acc)]
  }
}

extension OpRegistry {
  static var reduceEntries: [Entry] {
    Reduce.Function.allCases.map { function in
      Entry(function.rawValue) { a, o in try Reduce(function, attributes: a, opset: o) }
    }
  }
}
