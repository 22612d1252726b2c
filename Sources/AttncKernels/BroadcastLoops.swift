import AttncTensor

/// The fast paths of the elementwise kernels: broadcasting by coalesced strided rows instead of
/// per-element index tables, the operation chosen once per call (not per element), and
/// vectorised transcendental functions. `Elementwise.binary`/`unary` try these first and keep
/// their general loops for the rest (modulo, power, mixed types).
enum BroadcastLoops {
  /// A broadcast iteration: the output dims merged where every operand is contiguous (or
  /// broadcast) across the boundary, with each operand's element strides (0 on broadcast dims).
  struct Walk {
    var shape: [Int]
    var strides: [[Int]]
    var count: Int

    init(output: [Int], operands: [[Int]]) {
      let rank = output.count
      var strides: [[Int]] = operands.map { shape in
        var result = [Int](repeating: 0, count: rank)
        var step = 1
        for i in stride(from: shape.count - 1, through: 0, by: -1) {
          result[rank - shape.count + i] = shape[i] == 1 ? 0 : step
          step *= shape[i]
        }
        return result
      }
      // Merge axis a into a+1 where, for every operand, stride[a] == stride[a+1]·dim[a+1].
      var dims = output
      var axis = rank - 2
      while axis >= 0 {
        let inner = dims[axis + 1]
        if strides.allSatisfy({ $0[axis] == $0[axis + 1] * inner }) {
          dims[axis + 1] *= dims[axis]
          dims.remove(at: axis)
          for k in strides.indices { strides[k].remove(at: axis) }
        }
        axis -= 1
      }
      if dims.isEmpty {
        dims = [1]
        strides = strides.map { _ in [0] }
      }
      shape = dims
      self.strides = strides
      count = output.reduce(1, *)
    }

    /// Calls `body(offsets, rowLength, rowStrides)` for every innermost row, in output order.
    @inline(__always) func rows(_ body: (_ offsets: [Int], _ outOffset: Int, _ length: Int) -> Void) {
      let rank = shape.count
      let length = shape[rank - 1]
      guard count > 0, length > 0 else { return }
      let rows = count / length
      var index = [Int](repeating: 0, count: rank)
      var offsets = [Int](repeating: 0, count: strides.count)
      for row in 0..<rows {
        body(offsets, row * length, length)
        var axis = rank - 2
        while axis >= 0 {
          index[axis] += 1
          for k in offsets.indices { offsets[k] += strides[k][axis] }
          if index[axis] < shape[axis] { break }
          for k in offsets.indices { offsets[k] -= strides[k][axis] * index[axis] }
          index[axis] = 0
          axis -= 1
        }
      }
    }
  }

  /// One row of `z[i] = f(x[i·sx], y[i·sy])` with strides 0 or 1, split so each case vectorises.
  @inline(__always) static func row<T>(
    _ x: UnsafePointer<T>, _ sx: Int, _ y: UnsafePointer<T>, _ sy: Int, _ z: UnsafeMutablePointer<T>,
    _ n: Int, _ f: (T, T) -> T
  ) {
    switch (sx, sy) {
    case (1, 1): for i in 0..<n { z[i] = f(x[i], y[i]) }
    case (1, 0): let c = y[0]; for i in 0..<n { z[i] = f(x[i], c) }
    case (0, 1): let c = x[0]; for i in 0..<n { z[i] = f(c, y[i]) }
    case (0, 0): let v = f(x[0], y[0]); for i in 0..<n { z[i] = v }
    default: for i in 0..<n { z[i] = f(x[i * sx], y[i * sy]) }
    }
  }

  @inline(__always) static func apply<T>(
    _ walk: Walk, _ x: UnsafeBufferPointer<T>, _ y: UnsafeBufferPointer<T>, into z: UnsafeMutableBufferPointer<T>,
    _ f: (T, T) -> T
  ) {
    let last = walk.shape.count - 1
    let sx = walk.strides[0][last], sy = walk.strides[1][last]
    guard let xp = x.baseAddress, let yp = y.baseAddress, let zp = z.baseAddress else { return }
    if last == 0 {
      // One coalesced row (same shapes, or a scalar operand): split it over the threads.
      Parallel.chunks(walk.count, minimumPerChunk: Parallel.elementsPerChunk) { range in
        let i = range.lowerBound
        row(xp + i * sx, sx, yp + i * sy, sy, zp + i, range.count, f)
      }
      return
    }
    walk.rows { offsets, outOffset, length in
      row(xp + offsets[0], sx, yp + offsets[1], sy, zp + outOffset, length, f)
    }
  }

  @inline(__always) static func apply<T>(
    _ walk: Walk, _ x: [T], _ y: [T], into out: inout [T], _ f: (T, T) -> T
  ) {
    x.withUnsafeBufferPointer { xb in
      y.withUnsafeBufferPointer { yb in
        out.withUnsafeMutableBufferPointer { zb in apply(walk, xb, yb, into: zb, f) }
      }
    }
  }

  /// Float32 arithmetic (Add, Sub, Mul, Div, Max, Min) on two float tensors into `out` (which
  /// may be one of the operands when that operand is not broadcast: each element is read before
  /// it is written); false for other ops.
  static func floatArithmetic(_ op: String, _ a: Tensor, _ b: Tensor, walk: Walk, into out: inout FloatBuffer) -> Bool {
    let f: (Float, Float) -> Float
    switch op {
    case "Add": f = (+)
    case "Sub": f = (-)
    case "Mul": f = (*)
    case "Div": f = (/)
    case "Max": f = { $0.isNaN || $1.isNaN ? .nan : Swift.max($0, $1) }
    case "Min": f = { $0.isNaN || $1.isNaN ? .nan : Swift.min($0, $1) }
    default: return false
    }
    a.floats.withUnsafeBufferPointer { x in
      b.floats.withUnsafeBufferPointer { y in
        out.withUnsafeMutableBufferPointer { z in
          switch op {
          // Spelled out so each operation's row loops are specialised and vectorised.
          case "Add": apply(walk, x, y, into: z, +)
          case "Sub": apply(walk, x, y, into: z, -)
          case "Mul": apply(walk, x, y, into: z, *)
          case "Div": apply(walk, x, y, into: z, /)
          default: apply(walk, x, y, into: z, f)
          }
        }
      }
    }
    return true
  }

  /// Add, Sub, Mul or Div of same-shape float operands, or with `b` one row over `a`'s last axis
  /// (a bias): the loops `floatArithmetic` runs for these layouts, without working out a `Walk`
  /// (a tiny tensor's call is mostly that bookkeeping); nil for other layouts and ops.
  static func plainFloatArithmetic(_ op: String, _ a: Tensor, _ b: Tensor, output: FloatOutput) -> Tensor? {
    let count = a.count, n = a.shape.last ?? 1
    let sameShape = a.shape == b.shape
    guard count > 0, n > 0, sameShape || (a.rank >= b.rank && b.shape.last == n && b.count == n) else { return nil }
    switch op {
    case "Add", "Sub", "Mul", "Div": break
    default: return nil
    }
    var out = output(count)
    a.floats.withUnsafeBufferPointer { x in
      b.floats.withUnsafeBufferPointer { y in
        out.withUnsafeMutableBufferPointer { z in
          guard let xp = x.baseAddress, let yp = y.baseAddress, let zp = z.baseAddress else { return }
          switch op {
          case "Add": plainApply(count, row: sameShape ? nil : n, xp, yp, zp, +)
          case "Sub": plainApply(count, row: sameShape ? nil : n, xp, yp, zp, -)
          case "Mul": plainApply(count, row: sameShape ? nil : n, xp, yp, zp, *)
          default: plainApply(count, row: sameShape ? nil : n, xp, yp, zp, /)
          }
        }
      }
    }
    return .float(out, a.shape, dtype: a.dtype)
  }

  /// `z = f(x, y)` over `count` elements: same shapes as one row split over the threads (`apply`'s
  /// coalesced case), or `y` one row of `row` elements repeated, row by row.
  @inline(__always) static func plainApply(
    _ count: Int, row n: Int?, _ x: UnsafePointer<Float>, _ y: UnsafePointer<Float>, _ z: UnsafeMutablePointer<Float>,
    _ f: (Float, Float) -> Float
  ) {
    guard let n else {
      Parallel.chunks(count, minimumPerChunk: Parallel.elementsPerChunk) { range in
        let i = range.lowerBound
        row(x + i, 1, y + i, 1, z + i, range.count, f)
      }
      return
    }
    for start in stride(from: 0, to: count, by: n) { row(x + start, 1, y, 1, z + start, n, f) }
  }

  /// Integer and bool ops that cannot fail (no division) on two int tensors; nil for others.
  /// Comparisons and logic give 0/1.
  static func integer(_ op: String, _ a: Tensor, _ b: Tensor, walk: Walk) -> [Int64]? {
    var out = [Int64](unsafeUninitializedCapacity: walk.count) { _, initialized in initialized = walk.count }
    if a.dtype == .uint64 && b.dtype == .uint64 {
      // Held as Int64 bit patterns: order them as unsigned.
      func u(_ v: Int64) -> UInt64 { UInt64(bitPattern: v) }
      switch op {
      case "Max": apply(walk, a.ints, b.ints, into: &out) { u($0) >= u($1) ? $0 : $1 }
      case "Min": apply(walk, a.ints, b.ints, into: &out) { u($0) <= u($1) ? $0 : $1 }
      case "Less": apply(walk, a.ints, b.ints, into: &out) { u($0) < u($1) ? 1 : 0 }
      case "LessOrEqual": apply(walk, a.ints, b.ints, into: &out) { u($0) <= u($1) ? 1 : 0 }
      case "Greater": apply(walk, a.ints, b.ints, into: &out) { u($0) > u($1) ? 1 : 0 }
      case "GreaterOrEqual": apply(walk, a.ints, b.ints, into: &out) { u($0) >= u($1) ? 1 : 0 }
      default: break
      }
      if ["Max", "Min", "Less", "LessOrEqual", "Greater", "GreaterOrEqual"].contains(op) { return out }
    }
    switch op {
    case "Add": apply(walk, a.ints, b.ints, into: &out, &+)
    case "Sub": apply(walk, a.ints, b.ints, into: &out, &-)
    case "Mul": apply(walk, a.ints, b.ints, into: &out, &*)
    case "Max": apply(walk, a.ints, b.ints, into: &out) { Swift.max($0, $1) }
    case "Min": apply(walk, a.ints, b.ints, into: &out) { Swift.min($0, $1) }
    case "Equal": apply(walk, a.ints, b.ints, into: &out) { $0 == $1 ? 1 : 0 }
    case "Less": apply(walk, a.ints, b.ints, into: &out) { $0 < $1 ? 1 : 0 }
    case "LessOrEqual": apply(walk, a.ints, b.ints, into: &out) { $0 <= $1 ? 1 : 0 }
    case "Greater": apply(walk, a.ints, b.ints, into: &out) { $0 > $1 ? 1 : 0 }
    case "GreaterOrEqual": apply(walk, a.ints, b.ints, into: &out) { $0 >= $1 ? 1 : 0 }
    case "And": apply(walk, a.ints, b.ints, into: &out) { $0 != 0 && $1 != 0 ? 1 : 0 }
    case "Or": apply(walk, a.ints, b.ints, into: &out) { $0 != 0 || $1 != 0 ? 1 : 0 }
    case "Xor": apply(walk, a.ints, b.ints, into: &out) { ($0 != 0) != ($1 != 0) ? 1 : 0 }
    default: return nil
    }
    return out
  }

  static let comparisons: Set<String> = ["Equal", "Less", "LessOrEqual", "Greater", "GreaterOrEqual", "And", "Or", "Xor"]

  /// `op(a, b)` by the fast paths, or nil when they do not cover the case.
  static func binary(_ op: String, _ a: Tensor, _ b: Tensor, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) throws -> Tensor? {
    guard a.dtype == b.dtype || (a.isFloat && b.isFloat) || (!a.isFloat && !b.isFloat && comparisons.contains(op)),
      a.dtype != .string, b.dtype != .string
    else { return nil }
    if a.isFloat && b.isFloat, let plain = plainFloatArithmetic(op, a, b, output: output) { return plain }
    let shape = try Elementwise.broadcastShape([a.shape, b.shape])
    let walk = Walk(output: shape, operands: [a.shape, b.shape])
    if a.isFloat && b.isFloat {
      guard ["Add", "Sub", "Mul", "Div", "Max", "Min"].contains(op) else { return nil }
      var out = output(walk.count)
      _ = floatArithmetic(op, a, b, walk: walk, into: &out)
      return .float(out, shape, dtype: a.dtype)
    }
    if !a.isFloat && !b.isFloat {
      guard let out = integer(op, a, b, walk: walk) else { return nil }
      return .int(out, shape, dtype: comparisons.contains(op) ? .bool : a.dtype)
    }
    return nil
  }

  /// Vectorised unary functions on float tensors (Exp, Erf, Tanh, Gelu, Sigmoid, Neg, Abs, Relu,
  /// Sqrt, Reciprocal), split over the threads; nil for the others. `output` may be `x`'s memory.
  static func unary(_ op: String, _ x: Tensor, alpha: Float = 1, approximate: String, output: FloatOutput = FloatBuffer.init(uninitializedCount:)) -> Tensor? {
    let function: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void
    switch op {
    case "Swish": function = { x, y, n in swish(x, into: y, count: n, alpha: alpha) }
    case "Exp": function = { VectorMath.exp($0, into: $1, count: $2) }
    case "Erf": function = { VectorMath.erf($0, into: $1, count: $2) }
    case "Tanh": function = { VectorMath.tanh($0, into: $1, count: $2) }
    case "Gelu": function = { VectorMath.gelu($0, into: $1, count: $2, tanh: approximate == "tanh") }
    case "Sigmoid": function = { VectorMath.sigmoid($0, into: $1, count: $2) }
    // The general loop's formulas, as plain loops the compiler vectorises.
    case "Neg": function = { x, y, n in for i in 0..<n { y[i] = -x[i] } }
    case "Abs": function = { x, y, n in for i in 0..<n { y[i] = Swift.abs(x[i]) } }
    case "Relu": function = { x, y, n in for i in 0..<n { y[i] = Swift.max(x[i], 0) } }
    case "Sqrt": function = { x, y, n in for i in 0..<n { y[i] = x[i].squareRoot() } }
    case "Reciprocal": function = { x, y, n in for i in 0..<n { y[i] = 1 / x[i] } }
    default: return nil
    }
    var out = output(x.count)
    x.floats.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        guard let s = source.baseAddress, let t = target.baseAddress else { return }
        Parallel.chunks(x.count, minimumPerChunk: Parallel.elementsPerChunk) { range in
          function(s + range.lowerBound, t + range.lowerBound, range.count)
        }
      }
    }
    return .float(out, x.shape, dtype: x.dtype)
  }

  /// `y = x·sigmoid(α·x)` in blocks: each block of `x` is read before its block of `y` is
  /// written, so `y` may be `x`'s memory.
  static func swish(_ x: UnsafePointer<Float>, into y: UnsafeMutablePointer<Float>, count: Int, alpha: Float) {
    let block = 256
    withUnsafeTemporaryAllocation(of: Float.self, capacity: block) { gate in
      guard let g = gate.baseAddress else { return }
      var start = 0
      while start < count {
        let n = min(block, count - start)
        for i in 0..<n { g[i] = alpha * x[start + i] }
        VectorMath.sigmoid(g, into: g, count: n)
        for i in 0..<n { y[start + i] = x[start + i] * g[i] }
        start += n
      }
    }
  }

  /// `Pow(a, b)` for a float `a` and a one-element float or integer exponent of 2, 0.5 or 1
  /// (squares in RMSNorm and variance, square roots): `x·x`, `√x` (with pow's `√−0 = +0` and
  /// `√−∞ = +∞`) or a copy, exactly as `pow` gives them; nil for other exponents and shapes.
  /// - Parameter output: where the result goes (may be `a`'s memory: each element is read
  ///   before it is written).
  static func power(_ a: Tensor, _ b: Tensor, output: FloatOutput) throws -> Tensor? {
    guard a.isFloat, b.count == 1, b.dtype != .string else { return nil }
    let exponent = b.isFloat ? Double(b.floats[0]) : Double(b.ints[0])
    guard exponent == 2 || exponent == 0.5 || exponent == 1 else { return nil }
    let shape = try Elementwise.broadcastShape([a.shape, b.shape])
    let count = a.count
    var out = output(count)
    a.floats.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        guard let x = source.baseAddress, let z = target.baseAddress else { return }
        Parallel.chunks(count, minimumPerChunk: Parallel.elementsPerChunk) { range in
          let x = x + range.lowerBound, z = z + range.lowerBound
          switch exponent {
          case 2: for i in 0..<range.count { z[i] = x[i] * x[i] }
          case 0.5: for i in 0..<range.count { z[i] = x[i] == -.infinity ? .infinity : x[i].squareRoot() + 0 }
          default: for i in 0..<range.count { z[i] = x[i] }
          }
        }
      }
    }
    return .float(out, shape, dtype: a.dtype)
  }

  /// `Where(c, x, y)` for float or integer values (`x` and `y` of one kind, `c` integer or bool):
  /// one walk over the three broadcast operands, each innermost row by a loop on strides 0 or 1.
  static func select(_ c: Tensor, _ x: Tensor, _ y: Tensor, output: FloatOutput) throws -> Tensor {
    let shape = try Elementwise.broadcastShape([c.shape, x.shape, y.shape])
    let walk = Walk(output: shape, operands: [c.shape, x.shape, y.shape])
    func rows<T>(_ xs: UnsafeBufferPointer<T>, _ ys: UnsafeBufferPointer<T>, _ zs: UnsafeMutableBufferPointer<T>) {
      c.ints.withUnsafeBufferPointer { cs in
        guard walk.count > 0, let cp = cs.baseAddress, let xp = xs.baseAddress, let yp = ys.baseAddress, let zp = zs.baseAddress else { return }
        let last = walk.shape.count - 1
        let sc = walk.strides[0][last], sx = walk.strides[1][last], sy = walk.strides[2][last]
        walk.rows { offsets, outOffset, length in
          let cr = cp + offsets[0], xr = xp + offsets[1], yr = yp + offsets[2], zr = zp + outOffset
          if sc == 0 {
            // One condition for the whole row: a copy of one side.
            let side = cr[0] != 0 ? xr : yr, step = cr[0] != 0 ? sx : sy
            if step == 1 { zr.update(from: side, count: length) } else { for i in 0..<length { zr[i] = side[i * step] } }
          } else {
            for i in 0..<length { zr[i] = cr[i * sc] != 0 ? xr[i * sx] : yr[i * sy] }
          }
        }
      }
    }
    if x.isFloat {
      var out = output(walk.count)
      x.floats.withUnsafeBufferPointer { xs in
        y.floats.withUnsafeBufferPointer { ys in
          out.withUnsafeMutableBufferPointer { zs in rows(xs, ys, zs) }
        }
      }
      return .float(out, shape, dtype: x.dtype)
    }
    var out = [Int64](repeating: 0, count: walk.count)
    x.ints.withUnsafeBufferPointer { xs in
      y.ints.withUnsafeBufferPointer { ys in
        out.withUnsafeMutableBufferPointer { zs in rows(xs, ys, zs) }
      }
    }
    return .int(out, shape, dtype: x.dtype)
  }
}
