import AttncTensor

extension LinearAlgebra {
  /// `activation(alpha · A×B + addend₁ + …)` over float32, batched over broadcast leading axes
  /// like `matmul`. Each `m×n` output block is finished (addends, activation) right after its
  /// GEMM, while it is in cache.
  ///
  /// - Parameters:
  ///   - addends: tensors that broadcast into the product's shape (bias `[n]`, residual
  ///     `[…, m, n]`, attention mask `[b, 1, 1, n]`).
  ///   - activation: `none`, `gelu`, `gelu_tanh`, or `softmax` (over the last axis).
  public static func fusedMatMul(
    _ a: Tensor, _ b: Tensor, addends: [Tensor], alpha: Float, activation: String,
    output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) throws -> Tensor {
    guard a.rank >= 2, b.rank >= 2, a.isFloat, b.isFloat else {
      throw AttncError.invalid("FusedMatMul takes float matrices of rank ≥ 2, got \(a.shape) and \(b.shape)")
    }
    let m = a.shape[a.rank - 2], k = a.shape[a.rank - 1], n = b.shape[b.rank - 1]
    guard b.shape[b.rank - 2] == k else {
      throw AttncError.invalid("inner dims differ: \(k) and \(b.shape[b.rank - 2])")
    }
    let (batch, idx) = try Elementwise.broadcastIndices([Array(a.shape.dropLast(2)), Array(b.shape.dropLast(2))])
    let shape = batch + [m, n]
    let rank = shape.count
    let batches = batch.reduce(1, *)
    // Per addend: element strides over the output's axes (0 where broadcast).
    let strides: [[Int]] = try addends.map { addend in
      guard addend.isFloat, addend.rank <= rank else {
        throw AttncError.invalid("addend \(addend.shape) does not broadcast into \(shape)")
      }
      var result = [Int](repeating: 0, count: rank)
      var step = 1
      for axis in stride(from: addend.rank - 1, through: 0, by: -1) {
        let outAxis = rank - addend.rank + axis
        guard addend.shape[axis] == 1 || addend.shape[axis] == shape[outAxis] else {
          throw AttncError.invalid("addend \(addend.shape) does not broadcast into \(shape)")
        }
        result[outAxis] = addend.shape[axis] == 1 ? 0 : step
        step *= addend.shape[axis]
      }
      return result
    }
    let batchStrides = rowMajorStrides(batch)
    let function: (UnsafeMutablePointer<Float>, Int) -> Void
    switch activation {
    case "none": function = { _, _ in }
    case "gelu": function = { VectorMath.gelu($0, into: $0, count: $1, tanh: false) }
    case "gelu_tanh": function = { VectorMath.gelu($0, into: $0, count: $1, tanh: true) }
    case "softmax": function = { VectorMath.softmaxRow($0, count: $1) }
    default: throw AttncError.invalid("unknown FusedMatMul activation '\(activation)'")
    }
    var out = output(batches * m * n)
    let addendPointers = addends.map { $0.floats }
    a.floats.withUnsafeBufferPointer { x in
      b.floats.withUnsafeBufferPointer { y in
        out.withUnsafeMutableBufferPointer { z in
          guard let xb = x.baseAddress, let yb = y.baseAddress, let zb = z.baseAddress else { return }
          /// Adds the addends to rows `rows` of block `t` and applies the activation to them.
          func finish(_ t: Int, rows: Range<Int>) {
            let block = zb + t * m * n
            // The addends' offsets for this block's batch index.
            var bases = [Int](repeating: 0, count: addends.count)
            var rest = t
            for axis in 0..<batch.count {
              let i = rest / batchStrides[axis]
              rest %= batchStrides[axis]
              for e in addends.indices { bases[e] += i * strides[e][axis] }
            }
            for (e, values) in addendPointers.enumerated() {
              let rowStride = strides[e][rank - 2], columnStride = strides[e][rank - 1]
              values.withUnsafeBufferPointer { v in
                guard let vb = v.baseAddress else { return }
                for i in rows {
                  let row = block + i * n
                  BroadcastLoops.row(UnsafePointer(row), 1, vb + bases[e] + i * rowStride, columnStride, row, n, +)
                }
              }
            }
            if activation == "softmax" {
              for i in rows { function(block + i * n, n) }
            } else {
              function(block + rows.lowerBound * n, rows.count * n)
            }
          }
          func product(_ t: Int) {
            gemm(m: m, n: n, k: k, alpha: alpha, xb + idx[0][t] * m * k, yb + idx[1][t] * k * n, into: zb + t * m * n)
          }
          if batches >= Parallel.threads && batches > 1 {
            // Blocks in parallel (attention heads): each thread multiplies and finishes its own.
            Parallel.chunks(batches) { blocks in
              for t in blocks {
                product(t)
                finish(t, rows: 0..<m)
              }
            }
          } else {
            // Few large blocks (linear layers): OpenBLAS's threads multiply, ours finish rows.
            for t in 0..<batches {
              product(t)
              Parallel.chunks(m, minimumPerChunk: max(16, Parallel.elementsPerChunk / max(n, 1))) { rows in finish(t, rows: rows) }
            }
          }
        }
      }
    }
    return .float(out, shape, dtype: a.dtype)
  }
}
