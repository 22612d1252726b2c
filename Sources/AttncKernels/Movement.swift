import AttncTensor

/// Data-movement kernels: the elements move, their values do not change.
public enum Movement {
  /// Permutes the axes: output axis `k` is input axis `perm[k]` (a full permutation). Float and
  /// integer tensors copy rows (innermost axis kept) or walk the source by strides.
  /// - Parameter output: where a float result goes.
  public static func transpose(_ x: Tensor, perm: [Int], output: FloatOutput = FloatBuffer.init(uninitializedCount:)) -> Tensor {
    let shape = perm.map { x.shape[$0] }
    let strides = rowMajorStrides(x.shape)
    // Innermost axis kept (per-head layouts such as [b, s, h, d] → [b, h, s, d]): copy rows.
    if x.isFloat, let last = perm.last, last == x.rank - 1, x.shape[last] > 1 {
      let length = x.shape[last]
      let starts = stridedOffsets(Array(shape.dropLast()), strides: perm.dropLast().map { strides[$0] })
      var out = output(x.count)
      out.withUnsafeMutableBufferPointer { buffer in
        x.floats.withUnsafeBufferPointer { source in
          guard let from = source.baseAddress, let to = buffer.baseAddress else { return }
          Parallel.chunks(starts.count, minimumPerChunk: max(1, Parallel.elementsPerChunk / length)) { rows in
            for row in rows { (to + row * length).update(from: from + starts[row], count: length) }
          }
        }
      }
      return .float(out, shape, dtype: x.dtype)
    }
    // Other permutations: one strided walk over the source (innermost runs strided).
    let sourceStrides = perm.map { strides[$0] }
    if x.isFloat {
      var out = output(x.count)
      out.withUnsafeMutableBufferPointer { buffer in
        x.floats.withUnsafeBufferPointer { source in
          guard let from = source.baseAddress, let to = buffer.baseAddress else { return }
          stridedCopy(from: from, shape: shape, strides: sourceStrides, to: to)
        }
      }
      return .float(out, shape, dtype: x.dtype)
    }
    if x.dtype != .string {
      var out = [Int64](repeating: 0, count: x.count)
      out.withUnsafeMutableBufferPointer { buffer in
        x.ints.withUnsafeBufferPointer { source in
          guard let from = source.baseAddress, let to = buffer.baseAddress else { return }
          stridedCopy(from: from, shape: shape, strides: sourceStrides, to: to)
        }
      }
      return .int(out, shape, dtype: x.dtype)
    }
    return x.picking(stridedOffsets(shape, strides: sourceStrides), shape: shape)
  }

  public static func gather(_ data: Tensor, _ indices: Tensor, axis: Int, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor {
    let a = try normalizedAxis(axis, rank: data.rank)
    let d = data.shape[a]
    let outer = data.shape[..<a].reduce(1, *)
    let inner = data.shape[(a + 1)...].reduce(1, *)
    let picks = try indices.ints.map { raw -> Int in
      let i = raw < 0 ? Int(raw) + d : Int(raw)
      guard i >= 0 && i < d else { throw AttncError.invalid("index \(raw) is out of range for axis \(a) of size \(d)") }
      return i
    }
    let shape = Array(data.shape[..<a]) + indices.shape + Array(data.shape[(a + 1)...])
    if data.isFloat {
      // Rows of `inner` elements (embedding lookups): copy each picked row.
      var out = output(outer * picks.count * inner)
      out.withUnsafeMutableBufferPointer { target in
        data.floats.withUnsafeBufferPointer { source in
          guard let to = target.baseAddress, let from = source.baseAddress else { return }
          var row = 0
          for o in 0..<outer {
            for i in picks {
              (to + row * inner).update(from: from + (o * d + i) * inner, count: inner)
              row += 1
            }
          }
        }
      }
      return .float(out, shape, dtype: data.dtype)
    }
    var elements: [Int] = []
    elements.reserveCapacity(outer * picks.count * inner)
    for o in 0..<outer {
      for i in picks { for e in 0..<inner { elements.append((o * d + i) * inner + e) } }
    }
    return data.picking(elements, shape: Array(data.shape[..<a]) + indices.shape + Array(data.shape[(a + 1)...]))
  }

  public static func gatherElements(_ data: Tensor, _ indices: Tensor, axis: Int) throws -> Tensor {
    let a = try normalizedAxis(axis, rank: data.rank)
    guard indices.rank == data.rank else {
      throw AttncError.invalid("indices have rank \(indices.rank) but data has rank \(data.rank)")
    }
    for axis in 0..<data.rank where axis != a && indices.shape[axis] > data.shape[axis] {
      throw AttncError.invalid("indices have \(indices.shape[axis]) entries on axis \(axis) but data has \(data.shape[axis])")
    }
    let strides = rowMajorStrides(data.shape)
    let istrides = rowMajorStrides(indices.shape)
    var elements = [Int](repeating: 0, count: indices.count)
    for flat in 0..<indices.count {
      var rest = flat
      var source = 0
      for axis in 0..<indices.rank {
        let coordinate = rest / istrides[axis]
        rest %= istrides[axis]
        var c = coordinate
        if axis == a {
          c = Int(indices.ints[flat])
          if c < 0 { c += data.shape[a] }
          guard c >= 0 && c < data.shape[a] else {
            throw AttncError.invalid("index \(indices.ints[flat]) is out of range for axis \(a) of size \(data.shape[a])")
          }
        }
        source += c * strides[axis]
      }
      elements[flat] = source
    }
    return data.picking(elements, shape: indices.shape)
  }

  public static func gatherND(_ data: Tensor, _ indices: Tensor, batchDims b: Int) throws -> Tensor {
    guard let q = indices.shape.last else { throw AttncError.invalid("indices must have rank ≥ 1") }
    let strides = rowMajorStrides(data.shape)
    let inner = data.shape[(b + q)...].reduce(1, *)
    let batch = data.shape[..<b].reduce(1, *)
    let tuples = indices.count / max(q, 1)
    let perBatch = tuples / max(batch, 1)
    var elements: [Int] = []
    for t in 0..<tuples {
      var flat = 0
      var rest = perBatch > 0 ? t / perBatch : 0
      for axis in stride(from: b - 1, through: 0, by: -1) {
        flat += (rest % data.shape[axis]) * strides[axis]
        rest /= data.shape[axis]
      }
      for k in 0..<q {
        var i = Int(indices.ints[t * q + k])
        let d = data.shape[b + k]
        if i < 0 { i += d }
        guard i >= 0 && i < d else { throw AttncError.invalid("index \(indices.ints[t * q + k]) is out of range for axis \(b + k) of size \(d)") }
        flat += i * strides[b + k]
      }
      for e in 0..<inner { elements.append(flat + e) }
    }
    return data.picking(elements, shape: Array(indices.shape.dropLast()) + Array(data.shape[(b + q)...]))
  }

  /// Slice with per-axis (start, count, step) already clamped (as `clampSlice` gives them: for
  /// a non-empty axis, `start` and `start + (count − 1)·step` lie in `0..<dim`; steps may be
  /// negative, never 0). Float and integer tensors copy strided runs (whole contiguous rows with
  /// one copy each when the innermost sliced axes have step 1); strings pick element by element.
  /// - Parameter output: where a float result goes.
  public static func slice(
    _ x: Tensor, starts: [Int], counts: [Int], steps: [Int], output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) -> Tensor {
    precondition(starts.count == x.rank && counts.count == x.rank && steps.count == x.rank, "slice bounds must give every axis")
    let strides = rowMajorStrides(x.shape)
    var base = 0
    for axis in 0..<x.rank where counts[axis] > 0 {
      let last = starts[axis] + (counts[axis] - 1) * steps[axis]
      precondition(
        starts[axis] >= 0 && starts[axis] < x.shape[axis] && last >= 0 && last < x.shape[axis],
        "slice bounds \(starts[axis]), \(counts[axis]), \(steps[axis]) are outside axis \(axis) of size \(x.shape[axis])")
      base += starts[axis] * strides[axis]
    }
    let sourceStrides = (0..<x.rank).map { steps[$0] * strides[$0] }
    let count = counts.reduce(1, *)
    if x.isFloat {
      var out = output(count)
      out.withUnsafeMutableBufferPointer { target in
        x.floats.withUnsafeBufferPointer { source in
          guard count > 0, let to = target.baseAddress, let from = source.baseAddress else { return }
          stridedCopy(from: from + base, shape: counts, strides: sourceStrides, to: to)
        }
      }
      return .float(out, counts, dtype: x.dtype)
    }
    if x.dtype != .string {
      var out = [Int64](repeating: 0, count: count)
      out.withUnsafeMutableBufferPointer { target in
        x.ints.withUnsafeBufferPointer { source in
          guard count > 0, let to = target.baseAddress, let from = source.baseAddress else { return }
          stridedCopy(from: from + base, shape: counts, strides: sourceStrides, to: to)
        }
      }
      return .int(out, counts, dtype: x.dtype)
    }
    return x.picking(stridedOffsets(counts, strides: sourceStrides).map { $0 + base }, shape: counts)
  }

  /// Writes the `shape.reduce(1, *)` elements `from[Σ index[axis]·strides[axis]]`, in row-major
  /// order of `index` over `shape`, to `to[0...]`. Strides may be negative or 0; every offset
  /// reached must lie inside the source. Axes the source walks contiguously are merged first, so
  /// the innermost loop copies as long a contiguous run as the layout allows (one `update` per
  /// run when its stride is 1); large copies split their rows over the threads.
  static func stridedCopy<T>(from: UnsafePointer<T>, shape: [Int], strides: [Int], to: UnsafeMutablePointer<T>) {
    let count = shape.reduce(1, *)
    guard count > 0 else { return }
    // Drop size-1 axes, then merge axis a into a+1 where stride[a] == stride[a+1]·dim[a+1].
    var dims: [Int] = [], steps: [Int] = []
    for (d, s) in zip(shape, strides) where d != 1 {
      if let lastDim = dims.last, let lastStep = steps.last, lastStep == s * d {
        dims[dims.count - 1] = lastDim * d
        steps[steps.count - 1] = s
      } else {
        dims.append(d)
        steps.append(s)
      }
    }
    if dims.isEmpty {
      to[0] = from[0]
      return
    }
    let rank = dims.count
    let length = dims[rank - 1], step = steps[rank - 1]
    let rows = count / length
    @inline(__always) func copyRow(_ source: UnsafePointer<T>, _ target: UnsafeMutablePointer<T>) {
      if step == 1 {
        target.update(from: source, count: length)
      } else {
        for i in 0..<length { target[i] = source[i * step] }
      }
    }
    if rank == 1 {
      Parallel.chunks(length, minimumPerChunk: Parallel.elementsPerChunk) { range in
        let source = from + range.lowerBound * step, target = to + range.lowerBound
        if step == 1 {
          target.update(from: source, count: range.count)
        } else {
          for i in 0..<range.count { target[i] = source[i * step] }
        }
      }
      return
    }
    let outerDims = Array(dims.dropLast()), outerSteps = Array(steps.dropLast())
    Parallel.chunks(rows, minimumPerChunk: max(1, Parallel.elementsPerChunk / length)) { range in
      // The multi-index and source offset of the chunk's first row, then an odometer.
      var index = [Int](repeating: 0, count: rank - 1)
      var rest = range.lowerBound
      var offset = 0
      for axis in stride(from: rank - 2, through: 0, by: -1) {
        index[axis] = rest % outerDims[axis]
        rest /= outerDims[axis]
        offset += index[axis] * outerSteps[axis]
      }
      for row in range {
        copyRow(from + offset, to + row * length)
        stepOdometer(&index, &offset, dims: outerDims, steps: outerSteps)
      }
    }
  }

  /// ONNX Slice clamping of one axis: (start, count) for `start`, `end`, `step` on a dim of size `d`.
  public static func clampSlice(start s: Int, end e: Int, step: Int, dim d: Int) -> (Int, Int) {
    var first = s < 0 ? s + d : s
    var last = e < 0 ? e + d : e
    if step > 0 {
      first = min(max(first, 0), d)
      last = min(max(last, 0), d)
      return (first, max(0, (last - first + step - 1) / step))
    }
    first = min(max(first, 0), d - 1)
    last = min(max(last, -1), d - 1)
    return (first, max(0, (first - last + (-step) - 1) / (-step)))
  }

  /// Joins `parts` along `axis`. Every part must have the first part's rank, dtype kind (float,
  /// integer/bool or string) and dims off the axis. Each part contributes one contiguous block
  /// per index of the axes before `axis`: float and integer tensors copy those blocks whole.
  /// - Parameter output: where a float result goes.
  /// - Throws: "concat of nothing"; "concat parts differ: …" for mismatched ranks, dims or kinds.
  public static func concat(_ parts: [Tensor], axis: Int, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor {
    guard let first = parts.first else { throw AttncError.invalid("concat of nothing") }
    let a = try normalizedAxis(axis, rank: first.rank)
    for p in parts {
      let sameDims = p.rank == first.rank && (0..<first.rank).allSatisfy { $0 == a || p.shape[$0] == first.shape[$0] }
      let sameKind = p.isFloat == first.isFloat && (p.dtype == .string) == (first.dtype == .string)
      guard sameDims && sameKind else {
        throw AttncError.invalid("concat parts differ: \(p.dtype)\(p.shape) and \(first.dtype)\(first.shape) along axis \(a)")
      }
    }
    var shape = first.shape
    shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
    let outer = shape[..<a].reduce(1, *)
    let inner = shape[(a + 1)...].reduce(1, *)
    let total = shape.reduce(1, *)
    // Part k's block per outer index, and where it starts within the output's block.
    let blocks = parts.map { $0.shape[a] * inner }
    let row = shape[a] * inner
    func copyBlocks<T>(_ target: UnsafeMutablePointer<T>, _ sources: [UnsafePointer<T>?]) {
      Parallel.chunks(outer, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(row, 1))) { range in
        for o in range {
          var at = o * row
          for (k, source) in sources.enumerated() {
            let block = blocks[k]
            if block > 0, let source { (target + at).update(from: source + o * block, count: block) }
            at += block
          }
        }
      }
    }
    /// Copies every part's blocks into `target` while `pin` holds each part's elements.
    func copyParts<T>(
      _ target: UnsafeMutableBufferPointer<T>, _ pin: @escaping (Tensor, (UnsafePointer<T>?) -> Void) -> Void
    ) {
      guard total > 0, let to = target.baseAddress else { return }
      // Nested so every part's elements stay pinned while the blocks are copied.
      func nest(_ k: Int, _ sources: [UnsafePointer<T>?]) {
        if k == parts.count { return copyBlocks(to, sources) }
        pin(parts[k]) { nest(k + 1, sources + [$0]) }
      }
      nest(0, [])
    }
    if first.isFloat {
      var out = output(total)
      out.withUnsafeMutableBufferPointer { target in
        copyParts(target) { part, body in part.floats.withUnsafeBufferPointer { body($0.baseAddress) } }
      }
      return .float(out, shape, dtype: first.dtype)
    }
    if first.dtype != .string {
      var out = [Int64](repeating: 0, count: total)
      out.withUnsafeMutableBufferPointer { target in
        copyParts(target) { part, body in part.ints.withUnsafeBufferPointer { body($0.baseAddress) } }
      }
      return .int(out, shape, dtype: first.dtype)
    }
    var strings: [String] = []
    strings.reserveCapacity(total)
    for o in 0..<outer {
      for (k, p) in parts.enumerated() { strings += p.strings[(o * blocks[k])..<((o + 1) * blocks[k])] }
    }
    return Tensor(dtype: .string, shape: shape, strings: strings)
  }

  /// - Parameter output: where float part `k` goes (`output(k)`).
  public static func split(_ x: Tensor, axis: Int, sizes: [Int], output: (Int) -> FloatOutput = { _ in FloatBuffer.init(uninitializedCount:) }) throws -> [Tensor] {
    let a = try normalizedAxis(axis, rank: x.rank)
    guard sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) <= x.shape[a] else {
      throw AttncError.invalid("split sizes \(sizes) do not fit axis \(a) of size \(x.shape[a])")
    }
    var offset = 0
    if x.dtype != .string {
      // Each part is `outer` contiguous runs of `size·inner` elements: copy runs.
      let outer = x.shape[..<a].reduce(1, *), inner = x.shape[(a + 1)...].reduce(1, *), total = x.shape[a]
      return sizes.enumerated().map { part, size in
        var shape = x.shape
        shape[a] = size
        defer { offset += size }
        if x.isFloat {
          let run = size * inner
          var out = output(part)(outer * run)
          out.withUnsafeMutableBufferPointer { target in
            x.floats.withUnsafeBufferPointer { source in
              guard let to = target.baseAddress, let from = source.baseAddress else { return }
              let start = offset
              Parallel.chunks(outer, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(run, 1))) { runs in
                for o in runs { (to + o * run).update(from: from + (o * total + start) * inner, count: run) }
              }
            }
          }
          return .float(out, shape, dtype: x.dtype)
        }
        func runs<T>(_ source: [T]) -> [T] {
          var result: [T] = []
          result.reserveCapacity(outer * size * inner)
          for o in 0..<outer {
            let start = (o * total + offset) * inner
            result.append(contentsOf: source[start..<(start + size * inner)])
          }
          return result
        }
        return .int(runs(x.ints), shape, dtype: x.dtype)
      }
    }
    return sizes.map { size in
      var starts = [Int](repeating: 0, count: x.rank)
      var counts = x.shape
      starts[a] = offset
      counts[a] = size
      offset += size
      return slice(x, starts: starts, counts: counts, steps: [Int](repeating: 1, count: x.rank))
    }
  }

  public static func expand(_ x: Tensor, to target: [Int]) throws -> Tensor {
    let (shape, idx) = try Elementwise.broadcastIndices([x.shape, target])
    return x.picking(idx[0], shape: shape)
  }

  public static func tile(_ x: Tensor, repeats: [Int]) -> Tensor {
    let shape = zip(x.shape, repeats).map { $0 * $1 }
    let strides = rowMajorStrides(x.shape)
    var elements: [Int] = []
    forEachIndex(shape) { index in
      var flat = 0
      for axis in index.indices { flat += (index[axis] % x.shape[axis]) * strides[axis] }
      elements.append(flat)
    }
    return x.picking(elements, shape: shape)
  }

  /// Calls `body` with every multi-index of `shape` in row-major order.
  public static func forEachIndex(_ shape: [Int], _ body: ([Int]) -> Void) {
    let count = shape.reduce(1, *)
    guard count > 0 else { return }
    var index = [Int](repeating: 0, count: shape.count)
    for _ in 0..<count {
      body(index)
      var axis = shape.count - 1
      while axis >= 0 {
        index[axis] += 1
        if index[axis] < shape[axis] { break }
        index[axis] = 0
        axis -= 1
      }
    }
  }
}
