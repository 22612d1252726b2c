import AttncTensor

/// Data-movement kernels: the elements move, their values do not change.
public enum Movement {
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
    return x.picking(stridedOffsets(shape, strides: perm.map { strides[$0] }), shape: shape)
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

  /// Slice with per-axis (start, count, step) already clamped.
  public static func slice(_ x: Tensor, starts: [Int], counts: [Int], steps: [Int]) -> Tensor {
    let strides = rowMajorStrides(x.shape)
    var elements: [Int] = []
    elements.reserveCapacity(counts.reduce(1, *))
    forEachIndex(counts) { index in
      var flat = 0
      for axis in index.indices { flat += (starts[axis] + index[axis] * steps[axis]) * strides[axis] }
      elements.append(flat)
    }
    return x.picking(elements, shape: counts)
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

  public static func concat(_ parts: [Tensor], axis: Int) throws -> Tensor {
    guard let first = parts.first else { throw AttncError.invalid("concat of nothing") }
    let a = try normalizedAxis(axis, rank: first.rank)
    var shape = first.shape
    shape[a] = parts.reduce(0) { $0 + $1.shape[a] }
    let outer = shape[..<a].reduce(1, *)
    var out = Tensor(dtype: first.dtype, shape: shape)
    for o in 0..<outer {
      for p in parts {
        let block = p.shape[a...].reduce(1, *)
        let range = (o * block)..<((o + 1) * block)
        if p.isFloat { out.floats += p.floats[range] } else if p.dtype == .string { out.strings += p.strings[range] } else { out.ints += p.ints[range] }
      }
    }
    return out
  }

  /// - Parameter output: where float part `k` goes (`output(k)`).
  public static func split(_ x: Tensor, axis: Int, sizes: [Int], output: (Int) -> FloatOutput = { _ in FloatBuffer.init(uninitializedCount:) }) throws -> [Tensor] {
    let a = try normalizedAxis(axis, rank: x.rank)
    var offset = 0
    if x.dtype != .string, sizes.allSatisfy({ $0 >= 0 }), sizes.reduce(0, +) <= x.shape[a] {
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
