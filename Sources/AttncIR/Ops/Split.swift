import AttncTensor

/// `Split(x, split?)` along `axis` into the node's outputs: sizes from `split` (an attribute
/// before opset 13, an input from 13), else equal parts — with `num_outputs` (opset 18) the last
/// part may be smaller (`ceil(d / n)` each).
public struct Split: Op, Evaluable {
  public var axis: Int
  public var splitAttribute: [Int]?
  public var numOutputs: Int?
  public var splitFromInput: Bool

  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
    splitFromInput = opset >= 13
    splitAttribute = splitFromInput ? nil : try attributes.ints("split")
    numOutputs = try attributes.int("num_outputs")
  }

  func sizes(_ dim: Dim, split: [Int]?, outputs: Int) throws -> [Dim] {
    if let split {
      guard split.count == outputs else {
        throw AttncError.invalid("split has \(split.count) entries for \(outputs) outputs")
      }
      if let d = dim.value, split.reduce(0, +) != d {
        throw AttncError.invalid("split \(split) does not add up to the axis size \(d)")
      }
      return split.map { Dim($0) }
    }
    let parts = numOutputs ?? outputs
    guard parts > 0 else { throw AttncError.invalid("cannot split into \(parts) parts") }
    if let d = dim.value {
      let chunk = (d + parts - 1) / parts
      if numOutputs == nil && d % parts != 0 {
        throw AttncError.invalid("axis size \(d) is not divisible into \(parts) equal parts")
      }
      return (0..<parts).map { Dim(max(0, min(chunk, d - $0 * chunk))) }
    }
    return [Dim](repeating: dim.floorDivided(by: parts), count: parts)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...2)
    let x = try inputs.required(0)
    let a = try x.type.axis(axis)
    var split = splitAttribute
    if splitFromInput, let s = inputs.optional(1) {
      guard let ints = s.constantInts else {
        // Sizes arrive at run time: each output's split axis is unknown.
        let fresh = DataDependentDims("split")
        return (0..<outputCount).map { k in
          var dims = x.dims
          dims[a] = fresh.dim(k)
          return TensorType(x.dtype, dims)
        }
      }
      split = ints
    }
    return try sizes(x.dims[a], split: split, outputs: outputCount).map { size in
      var dims = x.dims
      dims[a] = size
      return TensorType(x.dtype, dims)
    }
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let a = try Shapes.normalize(axis: axis, rank: x.rank)
    var split = splitAttribute
    if splitFromInput, inputs.count > 1, let s = inputs[1] { split = s.int64s().map { Int($0) } }
    let parts = try concreteDims(try sizes(Dim(x.shape[a]), split: split, outputs: outputCount))
    let outer = x.shape[..<a].reduce(1, *)
    let inner = x.shape[(a + 1)...].reduce(1, *)
    var offset = 0
    return parts.map { size in
      var shape = x.shape
      shape[a] = size
      var elements: [Int] = []
      for o in 0..<outer {
        for i in 0..<(size * inner) { elements.append((o * x.shape[a] + offset) * inner + i) }
      }
      offset += size
      return ElementPicking.pick(x, shape: shape, elements: elements)
    }
  }
}
