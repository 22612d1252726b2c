import AttncTensor
import CAttnc

extension LinearAlgebra {
  /// `activation(alpha · A×B + addend₁ + …)` over float32, batched over broadcast leading axes
  /// like `matmul`. Each `m×n` output block is finished (addends, activation) right after its
  /// GEMM, while it is in cache.
  ///
  /// - Parameters:
  ///   - addends: tensors that broadcast into the product's shape (bias `[n]`, residual
  ///     `[…, m, n]`, attention mask `[b, 1, 1, n]`).
  ///   - activation: `none`, `gelu`, `gelu_tanh`, `relu`, or `softmax` (over the last axis).
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
    let code: Int32
    switch activation {
    case "none", "softmax": code = Int32(ATTNC_EPILOGUE_NONE)
    case "gelu": code = Int32(ATTNC_EPILOGUE_GELU)
    case "gelu_tanh": code = Int32(ATTNC_EPILOGUE_GELU_TANH)
    case "relu": code = Int32(ATTNC_EPILOGUE_RELU)
    default: throw AttncError.invalid("unknown FusedMatMul activation '\(activation)'")
    }
    var out = output(batches * m * n)
    withBaseAddresses(addends.map { $0.floats }[...], []) { addendBases in
      a.floats.withUnsafeBufferPointer { x in
        b.floats.withUnsafeBufferPointer { y in
          out.withUnsafeMutableBufferPointer { z in
            guard let xb = x.baseAddress, let yb = y.baseAddress, let zb = z.baseAddress else { return }
            /// Adds the addends to rows `rows`, columns `columns` of block `t` and applies the
            /// activation to them, one pass per row in C (`attnc_epilogue_rows`); softmax rows
            /// are whole.
            func finish(_ t: Int, rows: Range<Int>, columns: Range<Int>) {
              let block = zb + t * m * n
              // The addends' offsets for this block's batch index.
              var bases = [Int](repeating: 0, count: addends.count)
              var rest = t
              for axis in 0..<batch.count {
                let i = rest / batchStrides[axis]
                rest %= batchStrides[axis]
                for e in addends.indices { bases[e] += i * strides[e][axis] }
              }
              // A broadcast axis has stride 0; the last axis's stride is otherwise 1.
              let terms = addendBases.indices.map { e in
                attnc_addend(
                  values: addendBases[e] + bases[e] + rows.lowerBound * strides[e][rank - 2]
                    + columns.lowerBound * strides[e][rank - 1],
                  row_stride: strides[e][rank - 2], column_stride: strides[e][rank - 1])
              }
              let first = block + rows.lowerBound * n + columns.lowerBound
              terms.withUnsafeBufferPointer {
                attnc_epilogue_rows(first, rows.count, columns.count, n, $0.baseAddress, Int32(terms.count), code)
              }
              if activation == "softmax" {
                for i in rows { VectorMath.softmaxRow(block + i * n, count: n) }
              }
            }
            func product(_ t: Int, finishing: ((Range<Int>, Range<Int>) -> Void)? = nil) {
              gemm(
                m: m, n: n, k: k, alpha: alpha, xb + idx[0][t] * m * k, yb + idx[1][t] * k * n, into: zb + t * m * n,
                finish: finishing)
            }
            if batches >= Parallel.threads && batches > 1 {
              // Blocks in parallel (attention heads): each thread multiplies and finishes its own.
              Parallel.chunks(batches, minimumPerChunk: max(1, Parallel.productsPerChunk / max(1, m * n * k))) { blocks in
                for t in blocks {
                  product(t)
                  finish(t, rows: 0..<m, columns: 0..<n)
                }
              }
            } else if activation == "softmax" {
              // Softmax needs whole rows: the product first, then rows over the threads.
              for t in 0..<batches {
                product(t)
                Parallel.chunks(m, minimumPerChunk: max(16, Parallel.elementsPerChunk / max(n, 1))) { rows in
                  finish(t, rows: rows, columns: 0..<n)
                }
              }
            } else {
              // Few large blocks (linear layers): `gemm` splits each over the threads, and each
              // thread finishes the block it computed.
              for t in 0..<batches {
                product(t) { rows, columns in finish(t, rows: rows, columns: columns) }
              }
            }
          }
        }
      }
    }
    return .float(out, shape, dtype: a.dtype)
  }

  /// `body` with the first elements' addresses of `buffers` (each valid for the call; an empty
  /// buffer gets an aligned address that must not be read).
  static func withBaseAddresses<R>(
    _ buffers: ArraySlice<FloatBuffer>, _ collected: [UnsafePointer<Float>], _ body: ([UnsafePointer<Float>]) -> R
  ) -> R {
    var addresses = collected
    addresses.reserveCapacity(collected.count + buffers.count)
    return collectingBaseAddresses(buffers, &addresses, body)
  }

  /// `withBaseAddresses`, appending to one array (no array per buffer).
  private static func collectingBaseAddresses<R>(
    _ buffers: ArraySlice<FloatBuffer>, _ collected: inout [UnsafePointer<Float>], _ body: ([UnsafePointer<Float>]) -> R
  ) -> R {
    guard let first = buffers.first else { return body(collected) }
    return first.withUnsafeBufferPointer { p in
      // An empty addend is never read (the product is empty too); any address will do.
      collected.append(p.baseAddress ?? UnsafePointer(bitPattern: MemoryLayout<Float>.alignment)!)
      return collectingBaseAddresses(buffers.dropFirst(), &collected, body)
    }
  }
}
