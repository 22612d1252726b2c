import AttncTensor

/// `Slice(data, starts, ends, axes?, steps?)`: elements `start, start+step, …` before `end` on
/// each listed axis, with ONNX's clamping (negative positions count from the end; out-of-range
/// positions clamp). Opset 1–9 read starts/ends/axes from attributes.
///
/// With symbolic dims the length stays symbolic where the algebra allows: an end of
/// `INT64_MAX` (or anything ≥ 2^31) means "to the end", a negative end `-k` means `dim - k`.
public struct Slice: Op, Evaluable, ContentPropagating {
  public var attributeForm: (starts: [Int], ends: [Int], axes: [Int]?)?
  private let fresh = DataDependentDims("slice")

  public init(attributes: Attributes, opset: Int) throws {
    if opset < 10 {
      guard let starts = try attributes.ints("starts"), let ends = try attributes.ints("ends") else {
        throw AttncError.invalid("attributes 'starts' and 'ends' are required")
      }
      attributeForm = (starts, ends, try attributes.ints("axes"))
    }
  }

  struct Spec {
    var starts: [Dim]
    var ends: [Dim]
    var axes: [Int]
    var steps: [Int]
  }

  func spec(_ inputs: [ValueFact?], rank: Int) throws -> Spec? {
    if let form = attributeForm {
      let axes = form.axes ?? Array(0..<form.starts.count)
      return Spec(starts: form.starts.map { Dim($0) }, ends: form.ends.map { Dim($0) },
                  axes: try axes.map { try Shapes.normalize(axis: $0, rank: rank) },
                  steps: [Int](repeating: 1, count: form.starts.count))
    }
    guard let starts = try inputs.required(1).content, let ends = try inputs.required(2).content
    else { return nil }
    guard starts.count == ends.count else {
      throw AttncError.invalid("starts has \(starts.count) entries but ends has \(ends.count)")
    }
    var axes = Array(0..<starts.count)
    if let a = inputs.optional(3) {
      guard let ints = a.constantInts else { return nil }
      axes = ints
    }
    var steps = [Int](repeating: 1, count: starts.count)
    if let s = inputs.optional(4) {
      guard let ints = s.constantInts else { return nil }
      steps = ints
    }
    guard axes.count == starts.count, steps.count == starts.count else {
      throw AttncError.invalid("starts, ends, axes and steps differ in length")
    }
    if steps.contains(0) { throw AttncError.invalid("slice step cannot be 0") }
    let normalized = try axes.map { try Shapes.normalize(axis: $0, rank: rank) }
    guard Set(normalized).count == normalized.count else { throw AttncError.invalid("axes \(axes) repeat an axis") }
    return Spec(starts: starts, ends: ends, axes: normalized, steps: steps)
  }

  /// Clamped (start, length) of one axis of size `dim`, or nil when not expressible.
  static func range(dim: Dim, start: Dim, end: Dim, step: Int) -> (start: Dim, count: Dim)? {
    if let d = dim.value, let s = start.value, let e = end.value {
      var first = s < 0 ? s + d : s
      var last = e < 0 ? e + d : e
      if step > 0 {
        first = min(max(first, 0), d)
        last = min(max(last, 0), d)
        return (Dim(first), Dim(max(0, (last - first + step - 1) / step)))
      }
      first = min(max(first, 0), d - 1)
      last = min(max(last, -1), d - 1)
      return (Dim(first), Dim(max(0, (first - last + (-step) - 1) / (-step))))
    }
    guard step > 0 else { return nil }
    let huge = 1 << 31
    func position(_ p: Dim) -> Dim? {
      guard let v = p.value else { return p }  // symbolic positions are taken as in range
      if v >= huge { return dim }
      if v < 0 { return v <= -huge ? 0 : dim + Dim(v) }
      return Dim(v)
    }
    guard let first = position(start), let last = position(end) else { return nil }
    let length = last - first
    if let l = length.value, l <= 0 { return (first, 0) }
    return (first, step == 1 ? length : (length + Dim(step - 1)).floorDivided(by: step))
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(attributeForm == nil ? 3...5 : 1...1)
    let x = try inputs.required(0)
    guard let spec = try spec(inputs, rank: x.rank) else {
      return [TensorType(x.dtype, x.dims.indices.map { fresh.dim($0) })]
    }
    var dims = x.dims
    for (k, axis) in spec.axes.enumerated() {
      dims[axis] = Slice.range(dim: x.dims[axis], start: spec.starts[k], end: spec.ends[k], step: spec.steps[k])?.count ?? fresh.dim(axis)
    }
    return [TensorType(x.dtype, dims)]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    let facts: [ValueFact?] = inputs.map { t in t.map { ValueFact(type: TensorType($0.dtype, $0.shape.map { Dim($0) }), constant: $0) } }
    guard let spec = try spec(facts, rank: x.rank) else { throw AttncError.unsupported("slice bounds unknown") }
    var starts = [Int](repeating: 0, count: x.rank)
    var steps = [Int](repeating: 1, count: x.rank)
    var shape = x.shape
    for (k, axis) in spec.axes.enumerated() {
      guard let r = Slice.range(dim: Dim(x.shape[axis]), start: spec.starts[k], end: spec.ends[k], step: spec.steps[k]),
        let s = r.start.value, let c = r.count.value
      else { throw AttncError.unsupported("slice bounds unknown") }
      starts[axis] = s
      steps[axis] = spec.steps[k]
      shape[axis] = c
    }
    let strides = ElementPicking.strides(x.shape)
    var elements: [Int] = []
    ElementPicking.forEachIndex(shape) { index in
      var flat = 0
      for axis in index.indices { flat += (starts[axis] + index[axis] * steps[axis]) * strides[axis] }
      elements.append(flat)
    }
    return [ElementPicking.pick(x, shape: shape, elements: elements)]
  }

  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, let content = x.content, x.rank == 1,
      let spec = try? spec(inputs, rank: 1), spec.axes == [0],
      let r = Slice.range(dim: Dim(content.count), start: spec.starts[0], end: spec.ends[0], step: spec.steps[0]),
      let s = r.start.value, let c = r.count.value
    else { return [nil] }
    return [(0..<c).map { content[s + $0 * spec.steps[0]] }]
  }
}
