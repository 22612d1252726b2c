import AttncKernels
import AttncTensor

/// `Slice(data, starts, ends, axes?, steps?)`: a strided window on some axes.
///
/// On each listed axis it takes the elements at `start, start + step, …` before `end`, with
/// ONNX's clamping: negative positions count from the end, positions past either end clamp (for
/// a negative step, `start` to `d - 1` and `end` to -1). Opsets 1–9 read `starts`, `ends` and
/// `axes` from attributes; `steps` arrive in opset 10.
///
/// Symbolic dims stay exact where the algebra can tell: an end of `INT64_MAX` (anything
/// ≥ 2³¹ − 1) or an end equal to the dim clamps to the dim, a small negative constant `-k` is
/// `d - k` and a small non-negative constant is taken as lying within the dim (symbols are assumed
/// at least as large as the constants a model slices them with). A symbolic position that cannot
/// be compared with the dim (`seq` against a constant 1024) gives a fresh dim, as do positions
/// unknown statically. Slicing a vector of known content slices the content.
public struct Slice: AttributedOp, ContentPropagating {
  /// The `starts`, `ends` and `axes` attributes of opsets 1–9.
  public struct Bounds: Sendable, Hashable {
    public var starts: [Int]
    public var ends: [Int]
    public var axes: [Int]?
  }

  /// Set in opsets 1–9, where the bounds are attributes.
  public var attributeForm: Bounds?
  private let fresh = DataDependentDims("slice")

  /// Positions at or beyond this magnitude mean "past the end" ("before the start").
  static let huge = Int(Int32.max)

  /// Reads the attribute form before opset 10.
  /// - Throws: "attributes 'starts' and 'ends' are required".
  public init(attributes: Attributes, opset: Int) throws {
    if opset < 10 {
      guard let starts = try attributes.ints("starts"), let ends = try attributes.ints("ends")
      else {
        throw AttncError.invalid("attributes 'starts' and 'ends' are required")
      }
      attributeForm = Bounds(starts: starts, ends: ends, axes: try attributes.ints("axes"))
    }
  }

  /// What is known about the bounds: per entry the start and end (nil when unknown), the
  /// normalized axes (nil when unknown) and the steps (nil when unknown).
  struct Spec {
    var starts: [Dim?]
    var ends: [Dim?]
    var axes: [Int]?
    var steps: [Int]?
  }

  /// Reads and validates the bounds for data of rank `rank`.
  /// - Throws: "starts has 2 entries but ends has 1"; "axes has 1 entries but starts has 2";
  ///   "steps has 1 entries but starts has 2"; "slice step cannot be 0"; "axes [0, -2] repeat an
  ///   axis"; "axis 3 is out of range for rank 2".
  func spec(_ inputs: [ValueFact?], rank: Int) throws -> Spec {
    var spec: Spec
    let count: Int
    if let form = attributeForm {
      count = form.starts.count
      spec = Spec(
        starts: form.starts.map { Dim($0) }, ends: form.ends.map { Dim($0) },
        axes: form.axes ?? Array(0..<count), steps: [Int](repeating: 1, count: count))
      guard form.ends.count == count else {
        throw AttncError.invalid("starts has \(count) entries but ends has \(form.ends.count)")
      }
    } else {
      let kinds: Set<DType> = [.int32, .int64]
      let starts = try inputs.required(1).integerVector("starts", dtypes: kinds)
      let ends = try inputs.required(2).integerVector("ends", dtypes: kinds)
      count = starts.length
      guard ends.length == count else {
        throw AttncError.invalid("starts has \(count) entries but ends has \(ends.length)")
      }
      spec = Spec(
        starts: starts.content.map { $0.map { Optional($0) } }
          ?? Array(repeating: nil, count: count),
        ends: ends.content.map { $0.map { Optional($0) } } ?? Array(repeating: nil, count: count),
        axes: Array(0..<count), steps: [Int](repeating: 1, count: count))
      if let given = inputs.optional(3) {
        let axes = try given.integerVector("axes", dtypes: kinds)
        guard axes.length == count else {
          throw AttncError.invalid("axes has \(axes.length) entries but starts has \(count)")
        }
        spec.axes = axes.content.flatMap(Squeeze.constants)
      }
      if let given = inputs.optional(4) {
        let steps = try given.integerVector("steps", dtypes: kinds)
        guard steps.length == count else {
          throw AttncError.invalid("steps has \(steps.length) entries but starts has \(count)")
        }
        spec.steps = steps.content.flatMap(Squeeze.constants)
      }
    }
    if let steps = spec.steps, steps.contains(0) {
      throw AttncError.invalid("slice step cannot be 0")
    }
    if let axes = spec.axes {
      guard axes.count == count else {
        throw AttncError.invalid("axes has \(axes.count) entries but starts has \(count)")
      }
      let normalized = try axes.map { try Shapes.normalize(axis: $0, rank: rank) }
      guard Set(normalized).count == normalized.count else {
        throw AttncError.invalid("axes \(axes) repeat an axis")
      }
      spec.axes = normalized
    }
    return spec
  }

  /// The first index taken and the number of elements taken on an axis of size `dim`, or nil
  /// when the algebra cannot express them (see the type's documentation).
  static func extent(dim: Dim, start: Dim, end: Dim, step: Int) -> (start: Dim, count: Dim)? {
    let forward = step > 0
    if let d = dim.value, let s = start.value, let e = end.value {
      var first = s < 0 ? s + d : s
      var last = e < 0 ? e + d : e
      if forward {
        first = min(max(first, 0), d)
        last = min(max(last, 0), d)
        return (Dim(first), Dim(max(0, (last - first + step - 1) / step)))
      }
      first = min(max(first, 0), d - 1)
      last = min(max(last, -1), d - 1)
      return (Dim(first), Dim(max(0, (first - last - step - 1) / -step)))
    }
    let upper = forward ? dim : dim - 1
    guard let first = position(start, dim: dim, lower: 0, upper: upper),
      let last = position(end, dim: dim, lower: forward ? 0 : -1, upper: upper)
    else { return nil }
    let span = forward ? last - first : first - last
    let stride = abs(step)
    if let v = span.value { return (first, Dim(max(0, (v + stride - 1) / stride))) }
    // Only a constant part may be negative: symbols are taken as large enough.
    guard span.terms.allSatisfy({ $0.key == .one || $0.value > 0 }) else { return nil }
    return (first, stride == 1 ? span : (span + Dim(stride - 1)).floorDivided(by: stride))
  }

  /// Where a start or end lands on an axis of symbolic size `dim` after clamping to
  /// `lower...upper`, or nil when it cannot be compared with the dim.
  static func position(_ p: Dim, dim: Dim, lower: Dim, upper: Dim) -> Dim? {
    if let v = p.value {
      if v >= huge { return upper }
      if v <= -huge { return lower }
      return v < 0 ? dim + Dim(v) : Dim(v)
    }
    if (p - upper).isKnownNonNegative { return upper }
    if p.isKnownNonNegative && (upper - p).isKnownNonNegative { return p }
    return nil
  }

  /// The input dims with each sliced axis replaced by its element count (fresh where unknown).
  /// - Throws: see `spec(_:rank:)`; "input 'starts' must be int32 or int64, got float32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(attributeForm == nil ? 3...5 : 1...1)
    let x = try inputs.required(0)
    let spec = try spec(inputs, rank: x.rank)
    guard let axes = spec.axes else {
      return [TensorType(x.dtype, x.dims.indices.map { fresh.dim($0) })]
    }
    var dims = x.dims
    for (k, axis) in axes.enumerated() {
      guard let start = spec.starts[k], let end = spec.ends[k], let step = spec.steps?[k],
        let extent = Slice.extent(dim: x.dims[axis], start: start, end: end, step: step)
      else {
        dims[axis] = fresh.dim(axis)
        continue
      }
      dims[axis] = extent.count
    }
    return [TensorType(x.dtype, dims)]
  }

  /// The elements taken on the last axis, `first + k·step` for `k < count`, when that axis has
  /// a known size, its bounds are constants and no other axis is sliced (the form of a
  /// `x[..., a:b]` or `x[..., a::2]` in a rotary embedding); nil otherwise.
  public func lastAxisWindow(_ inputs: [ValueFact?]) -> (first: Int, count: Int, step: Int)? {
    guard let x = inputs.first ?? nil, x.rank >= 1, let spec = try? spec(inputs, rank: x.rank), spec.axes == [x.rank - 1],
      let start = spec.starts[0], let end = spec.ends[0], let step = spec.steps?[0], x.dims[x.rank - 1].value != nil,
      let extent = Slice.extent(dim: x.dims[x.rank - 1], start: start, end: end, step: step),
      let first = extent.start.value, let count = extent.count.value
    else { return nil }
    return (first, count, step)
  }

  /// Slicing a vector of known content with constant bounds slices the content.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, x.rank == 1, let content = x.content,
      let spec = try? spec(inputs, rank: 1), spec.axes == [0],
      let start = spec.starts[0], let end = spec.ends[0], let step = spec.steps?[0],
      let extent = Slice.extent(dim: Dim(content.count), start: start, end: end, step: step),
      let first = extent.start.value, let count = extent.count.value
    else { return [nil] }
    return [(0..<count).map { content[first + $0 * step] }]
  }
}

extension Slice: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let form = attributeForm else { return Lowering(SliceCall(starts: nil, ends: nil, axes: nil)) }
    return Lowering(SliceCall(starts: form.starts, ends: form.ends, axes: form.axes))
  }
}
