import AttncTensor
import CAttnc
import Foundation

/// Matrix products and normalisations.
public enum LinearAlgebra {
  /// numpy `matmul` over float32 through `gemm`, batched over broadcast leading axes.
  public static func matmul(_ a: Tensor, _ b: Tensor, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor {
    let aShape = a.rank == 1 ? [1] + a.shape : a.shape
    let bShape = b.rank == 1 ? b.shape + [1] : b.shape
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1], n = bShape[bShape.count - 1]
    guard bShape[bShape.count - 2] == k else {
      throw AttncError.invalid("inner dims differ: \(k) and \(bShape[bShape.count - 2])")
    }
    let (batch, idx) = try Elementwise.broadcastIndices([Array(aShape.dropLast(2)), Array(bShape.dropLast(2))])
    let batches = batch.reduce(1, *)
    if a.isFloat {
      var out = output(batches * m * n)
      a.floats.withUnsafeBufferPointer { x in
        b.floats.withUnsafeBufferPointer { y in
          out.withUnsafeMutableBufferPointer { z in
            guard let xb = x.baseAddress, let yb = y.baseAddress, let zb = z.baseAddress else { return }
            for t in 0..<batches {
              gemm(m: m, n: n, k: k, xb + idx[0][t] * m * k, yb + idx[1][t] * k * n, into: zb + t * m * n)
            }
          }
        }
      }
      var shape = batch
      if a.rank > 1 { shape.append(m) }
      if b.rank > 1 { shape.append(n) }
      return .float(out, shape, dtype: a.dtype)
    }
    var ints = [Int64](repeating: 0, count: batches * m * n)
    for t in 0..<batches {
      for i in 0..<m { for p in 0..<k { let v = a.ints[idx[0][t] * m * k + i * k + p]; for j in 0..<n { ints[t * m * n + i * n + j] &+= v &* b.ints[idx[1][t] * k * n + p * n + j] } } }
    }
    var shape = batch
    if a.rank > 1 { shape.append(m) }
    if b.rank > 1 { shape.append(n) }
    return .int(ints, shape, dtype: a.dtype)
  }

  /// Softmax over `axis` (exact, max-subtracted). `coerce2D` applies the opset<13 form.
  /// - Parameter output: may be `x`'s own memory (each row is read before it is written).
  public static func softmax(_ x: Tensor, axis: Int, coerce2D: Bool = false, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor {
    let a = try normalizedAxis(axis, rank: x.rank)
    let outer = x.shape[..<a].reduce(1, *)
    let length = coerce2D ? x.shape[a...].reduce(1, *) : x.shape[a]
    let stride = coerce2D ? 1 : x.shape[(a + 1)...].reduce(1, *)
    var out = output(x.count)
    x.floats.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        guard let from = source.baseAddress, let to = target.baseAddress, from != UnsafePointer(to) else { return }
        to.update(from: from, count: x.count)
      }
    }
    if stride == 1 {
      out.withUnsafeMutableBufferPointer { buffer in
        guard let base = buffer.baseAddress else { return }
        for o in 0..<outer { VectorMath.softmaxRow(base + o * length, count: length) }
      }
      return .float(out, x.shape, dtype: x.dtype)
    }
    for o in 0..<outer {
      for s in 0..<stride {
        let base = o * length * stride + s
        var maximum = -Float.infinity
        for i in 0..<length { maximum = max(maximum, out[base + i * stride]) }
        var sum: Float = 0
        for i in 0..<length {
          let e = Foundation.exp(out[base + i * stride] - maximum)
          out[base + i * stride] = e
          sum += e
        }
        let scale = 1 / sum
        for i in 0..<length { out[base + i * stride] *= scale }
      }
    }
    return .float(out, x.shape, dtype: x.dtype)
  }

  /// Layer normalisation over the axes from `axis` on: `(x − mean)/√(var + ε)·scale + bias`
  /// (`rms`: `x/√(mean(x²) + ε)·scale`). Returns Y, and with `statistics` also Mean and InvStdDev
  /// shaped like x with the normalised axes kept as 1 (ONNX LayerNormalization outputs 1 and 2).
  /// - Parameter output: where Y goes; may be `x`'s own memory (each row is read before it is
  ///   written).
  public static func layerNorm(
    _ x: Tensor, scale: Tensor, bias: Tensor?, axis: Int, epsilon: Float, rms: Bool = false, statistics: Bool = false,
    output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) throws -> [Tensor] {
    let a = try normalizedAxis(axis, rank: x.rank)
    let inner = x.shape[a...].reduce(1, *)
    let rows = inner == 0 ? 0 : x.count / inner
    // scale and bias broadcast to one row of `inner` elements, once per call.
    let row = Array(x.shape[a...])
    /// `t` broadcast to one row: its own elements when it already has the row's shape (or its
    /// size, over leading 1s), else gathered.
    func perRow(_ t: Tensor) throws -> FloatBuffer {
      if t.count == inner && t.shape.drop(while: { $0 == 1 }).elementsEqual(row.drop(while: { $0 == 1 })) { return t.floats }
      return FloatBuffer(try Elementwise.broadcastIndices([t.shape, row]).indices[0].map { t.floats[$0] })
    }
    let gamma = try perRow(scale)
    let beta = try bias.map(perRow)
    var out = output(x.count)
    var means = [Float](repeating: 0, count: statistics ? rows : 0)
    var inverses = [Float](repeating: 0, count: statistics ? rows : 0)
    x.floats.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        means.withUnsafeMutableBufferPointer { meanRows in
          inverses.withUnsafeMutableBufferPointer { inverseRows in
            gamma.withUnsafeBufferPointer { g in
              (beta ?? []).withUnsafeBufferPointer { b in
                guard let xs = source.baseAddress, let ys = target.baseAddress, let gs = g.baseAddress else { return }
                let (bs, ms, ins) = (beta == nil ? nil : b.baseAddress, meanRows.baseAddress, inverseRows.baseAddress)
                Parallel.chunks(rows, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(inner, 1))) { range in
                  let first = range.lowerBound
                  attnc_layer_norm(
                    xs + first * inner, ys + first * inner, range.count, inner, gs, bs, epsilon, rms ? 1 : 0,
                    statistics ? ms.map { $0 + first } : nil, statistics ? ins.map { $0 + first } : nil)
                }
              }
            }
          }
        }
      }
    }
    let y = Tensor.float(out, x.shape, dtype: x.dtype)
    guard statistics else { return [y] }
    let kept = Array(x.shape[..<a]) + [Int](repeating: 1, count: x.rank - a)
    return [y, .float(means, kept), .float(inverses, kept)]
  }


  /// ReduceSum / ReduceMean / ReduceMax over `axes` (sorted, normalised). Floating-point types
  /// accumulate in Double (a NaN propagates through the maximum); integers and bool in Int64,
  /// exactly (sums wrap as two's complement; an integer mean truncates toward zero; the maximum
  /// of an empty set is the type's minimum, false for bool).
  public static func reduce(_ op: String, _ x: Tensor, axes: [Int], keepDims: Bool) -> Tensor {
    let kept = x.shape.enumerated().map { axes.contains($0.offset) ? 1 : $0.element }
    let outStrides = rowMajorStrides(kept)
    let count = kept.reduce(1, *)
    let shape = keepDims ? kept : x.shape.enumerated().filter { !axes.contains($0.offset) }.map(\.element)
    let reduced = axes.reduce(1) { $0 * x.shape[$1] }
    /// Visits every element with its output position.
    func forEach(_ body: (_ flat: Int, _ k: Int) -> Void) {
      var k = 0
      Movement.forEachIndex(x.shape) { index in
        var flat = 0
        for axis in index.indices where !axes.contains(axis) { flat += index[axis] * outStrides[axis] }
        body(flat, k)
        k += 1
      }
    }
    // Each element's term of the sum (ReduceL1, ReduceL2, ReduceSumSquare), and the root of L2.
    let term: (Double) -> Double =
      switch op {
      case "ReduceL1": { abs($0) }
      case "ReduceL2", "ReduceSumSquare": { $0 * $0 }
      default: { $0 }
      }
    let finish: (Double) -> Double = op == "ReduceL2" ? { $0.squareRoot() } : { $0 }
    if x.isFloat, let first = axes.first, axes == Array(first..<x.rank) {
      // Trailing axes: each output is one contiguous row, summed in the same order as below.
      let inner = reduced
      var acc = [Double](repeating: op == "ReduceMax" ? -.infinity : 0, count: count)
      x.floats.withUnsafeBufferPointer { values in
        for row in 0..<count {
          let base = row * inner
          var total: Double = op == "ReduceMax" ? -.infinity : 0
          if op == "ReduceMax" {
            for j in 0..<inner {
              let value = Double(values[base + j])
              total = total.isNaN || value.isNaN ? .nan : max(total, value)
            }
          } else {
            for j in 0..<inner { total += term(Double(values[base + j])) }
          }
          acc[row] = finish(total)
        }
      }
      if op == "ReduceMean" { acc = acc.map { $0 / Double(reduced) } }
      return .float(acc.map { Float($0) }, shape, dtype: x.dtype)
    }
    if x.isFloat {
      var acc = [Double](repeating: op == "ReduceMax" ? -.infinity : 0, count: count)
      forEach { flat, k in
        let value = Double(x.floats[k])
        if op == "ReduceMax" {
          acc[flat] = acc[flat].isNaN || value.isNaN ? .nan : max(acc[flat], value)
        } else {
          acc[flat] += term(value)
        }
      }
      acc = acc.map(finish)
      if op == "ReduceMean" { acc = acc.map { $0 / Double(reduced) } }
      return .float(acc.map { Float($0) }, shape, dtype: x.dtype)
    }
    let lowest: Int64 = x.dtype.isSignedInteger ? Int64.min >> Int64(64 - min(x.dtype.bitWidth, 64)) : 0
    var acc = [Int64](repeating: op == "ReduceMax" ? lowest : 0, count: count)
    forEach { flat, k in
      let value = x.ints[k]
      switch op {
      case "ReduceMax": acc[flat] = max(acc[flat], value)
      case "ReduceL1": acc[flat] &+= abs(value)
      case "ReduceL2", "ReduceSumSquare": acc[flat] &+= value &* value
      default: acc[flat] &+= value
      }
    }
    // An integer L2 is the root truncated, as ONNX's reference casts it.
    if op == "ReduceL2" { acc = acc.map { Int64(Double($0).squareRoot()) } }
    if op == "ReduceMean", reduced > 0 { acc = acc.map { $0 / Int64(reduced) } }
    return .int(acc, shape, dtype: x.dtype)
  }

  /// Running sums along `axis`.
  public static func cumsum(_ x: Tensor, axis: Int, exclusive: Bool, reverse: Bool) throws -> Tensor {
    let a = try normalizedAxis(axis, rank: x.rank)
    let n = x.shape[a], inner = x.shape[(a + 1)...].reduce(1, *), outer = x.shape[..<a].reduce(1, *)
    var out = x
    for o in 0..<outer {
      for e in 0..<inner {
        var si: Int64 = 0
        var sf: Float = 0
        for step in 0..<n {
          let i = reverse ? n - 1 - step : step
          let flat = (o * n + i) * inner + e
          if x.isFloat {
            if exclusive { out.floats[flat] = sf; sf += x.floats[flat] } else { sf += x.floats[flat]; out.floats[flat] = sf }
          } else {
            if exclusive { out.ints[flat] = si; si &+= x.ints[flat] } else { si &+= x.ints[flat]; out.ints[flat] = si }
          }
        }
      }
    }
    return out
  }
}
