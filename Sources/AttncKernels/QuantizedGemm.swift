import AttncTensor
import CAttnc

/// attnc's 8-bit integer GEMM (`attnc_quantized_gemm.h`): `(A − a_zero)·(B − b_zero)` with A
/// unsigned and B signed bytes, exact in 32 bits, either stored as int32 (`MatMulInteger`) or
/// scaled to float and finished with the fused epilogue (the linear layers of dynamically
/// quantized models). AVX-512 VNNI, AVX2 or plain C tiles, chosen at run time.
///
/// Signed A and unsigned B are shifted by 128 into the kernel's ranges (`a + 128` with
/// `a_zero + 128`, `b − 128` with `b_zero − 128`), which leaves every difference, and so every
/// product, unchanged.
public enum QuantizedGemm {
  /// Columns per packed panel.
  public static let panel = Int(ATTNC_QGEMM_PANEL)

  /// Bytes of a `[k, n]` weight once packed (panels, then the int32 column sums).
  public static func packedBytes(k: Int, n: Int) -> Int { attnc_qgemm_packed_bytes(k, n) }

  /// Bytes between rows of an A operand of depth k (k rounded up to four).
  public static func depthStride(_ k: Int) -> Int { attnc_qgemm_depth_stride(k) }

  /// Whether the widest kernel here is the AVX-512 VNNI one.
  public static var usesVNNI: Bool { attnc_qgemm_uses_vnni() != 0 }

  /// `b [k, n]` (row-major signed bytes) packed, as raw bytes.
  public static func pack(_ b: [Int8], k: Int, n: Int) -> [UInt8] {
    precondition(b.count == k * n, "QuantizedGemm.pack: \(b.count) bytes for [\(k), \(n)]")
    let bytes = packedBytes(k: k, n: n)
    // UInt32 elements keep the buffer 4-byte aligned for the column sums.
    var words = [UInt32](repeating: 0, count: (bytes + 3) / 4)
    b.withUnsafeBufferPointer { source in
      words.withUnsafeMutableBytes { target in attnc_qgemm_pack(source.baseAddress, k, n, target.baseAddress) }
    }
    return words.withUnsafeBytes { Array($0.prefix(bytes)) }
  }

  /// The packed weight as the plan stores it: its bytes carried in float32 elements (four per
  /// element, `[packedBytes / 4]`), because a plan's tensors are float32 or 64-bit integers at
  /// run time and neither holds bytes densely. Nothing computes on these floats; they are copied
  /// bit for bit.
  public static func packedTensor(_ b: [Int8], k: Int, n: Int) -> HostTensor {
    let bytes = pack(b, k: k, n: n)
    let storage = ByteStorage.build(count: bytes.count) { target in
      bytes.withUnsafeBytes { target.copyMemory(from: $0) }
    }
    // The byte count is a multiple of four: panels of 64-byte groups, then int32 sums.
    return try! HostTensor(dtype: .float, shape: [bytes.count / 4], storage: storage)
  }

  /// The operands of one product, as `attnc_qgemm` reads them.
  struct Operands {
    var a: UnsafePointer<UInt8>
    var lda: Int
    var rowSums: UnsafePointer<Int32>?
    var aZero: UnsafePointer<Int32>
    var aZeroStride: Int
    var packed: UnsafeRawPointer
    var bZero: UnsafePointer<Int32>?
    var bZeroStride: Int
    var m: Int, n: Int, k: Int
  }

  /// `attnc_qgemm` for `operands` writing int32 `out` (`[m, n]`).
  static func run(_ o: Operands, int32 out: UnsafeMutablePointer<Int32>, kernels: InstructionSets) {
    var call = call(o, kernels: kernels)
    call.c_int = out
    split(call)
  }

  static func call(_ o: Operands, kernels: InstructionSets) -> attnc_qgemm {
    var call = attnc_qgemm()
    call.a = o.a
    call.lda = o.lda
    call.a_row_sums = o.rowSums
    call.a_zero = o.aZero
    call.a_zero_stride = o.aZeroStride
    call.packed_b = o.packed
    call.b_zero = o.bZero
    call.b_zero_stride = o.bZeroStride
    call.m = o.m
    call.n = o.n
    call.k = o.k
    call.alpha = 1
    call.kernels = kernels.rawValue
    return call
  }

  /// Splits a call over the threads (`Parallel.product`).
  static func split(_ call: attnc_qgemm) {
    withUnsafePointer(to: call) { call in
      Parallel.product(rows: call.pointee.m, columns: call.pointee.n, depth: Int(call.pointee.k), panel: panel) { rows, columns in
        attnc_qgemm_run(call, rows.lowerBound, rows.upperBound, columns.lowerBound, columns.upperBound)
      }
    }
  }

  /// The exact int32 product of prepared operands into `out` (`[m, n]`): A's rows (`lda` bytes
  /// apart, unsigned) with their sums, B packed, one A zero point or one per row, one B zero
  /// point or one per column (all in the kernel's ranges).
  static func multiply(
    rows: [UInt8], lda: Int, sums: [Int32], packed: [UInt8], aZeros: [Int32], bZeros: [Int32], m: Int, n: Int,
    k: Int, into out: UnsafeMutablePointer<Int32>, kernels: InstructionSets
  ) {
    rows.withUnsafeBufferPointer { rows in
      sums.withUnsafeBufferPointer { sums in
        packed.withUnsafeBytes { packed in
          aZeros.withUnsafeBufferPointer { za in
            bZeros.withUnsafeBufferPointer { zb in
              let operands = Operands(
                a: rows.baseAddress!, lda: lda, rowSums: sums.baseAddress, aZero: za.baseAddress!,
                aZeroStride: za.count > 1 ? 1 : 0, packed: packed.baseAddress!,
                bZero: zb.allSatisfy { $0 == 0 } ? nil : zb.baseAddress, bZeroStride: zb.count > 1 ? 1 : 0, m: m, n: n,
                k: k)
              run(operands, int32: out, kernels: kernels)
            }
          }
        }
      }
    }
  }

  // MARK: - MatMulInteger

  /// ONNX `MatMulInteger`: `Y = (A − a_zero)·(B − b_zero)` as int32 (wrapping past 32 bits),
  /// numpy batch broadcasting. A and B are int8 or uint8; `a_zero` is a scalar, one per row of
  /// A (`[M]`, or `[…, M, 1]` over A's batch), `b_zero` a scalar or one per column (`[N]`, or
  /// `[…, 1, N]`).
  /// - Throws: shapes that do not multiply, non-8-bit types, zero points of the wrong type or
  ///   shape.
  public static func matMulInteger(
    _ a: Tensor, _ b: Tensor, aZero: Tensor?, bZero: Tensor?, kernels: InstructionSets = .widest
  ) throws -> Tensor {
    for (name, x) in [("A", a), ("B", b)] where x.dtype != .int8 && x.dtype != .uint8 {
      throw AttncError.invalid("MatMulInteger input '\(name)' must be int8 or uint8, got \(x.dtype)")
    }
    for (name, zero, x) in [("a_zero_point", aZero, a), ("b_zero_point", bZero, b)] {
      if let zero, zero.dtype != x.dtype {
        throw AttncError.invalid("\(name) is \(zero.dtype) but its matrix is \(x.dtype)")
      }
    }
    let (m, k, n, aBatches, bBatches, batchShape, operands) = try productLayout(a.shape, b.shape)
    let batches = batchShape.reduce(1, *)
    let aZeros = try perIndex(
      aZero?.ints ?? [0], shape: aZero?.shape ?? [], count: m, batches: aBatches, along: "row", what: "A's zero point")
    let bZeros = try perIndex(
      bZero?.ints ?? [0], shape: bZero?.shape ?? [], count: n, batches: bBatches, along: "column", what: "B's zero point")
    let aShift: Int64 = a.dtype == .int8 ? 128 : 0, bShift: Int64 = b.dtype == .uint8 ? -128 : 0
    let lda = depthStride(k)
    var out = [Int32](repeating: 0, count: batches * m * n)
    var rowsBuffer = [UInt8](repeating: 0, count: m * lda)
    var sums = [Int32](repeating: 0, count: m)
    for batch in 0..<batches {
      let aBatch = operands[0][batch], bBatch = operands[1][batch]
      for r in 0..<m {
        var sum: Int32 = 0
        for t in 0..<k {
          let v = UInt8(truncatingIfNeeded: a.ints[(aBatch * m + r) * k + t] + aShift)
          rowsBuffer[r * lda + t] = v
          sum &+= Int32(v)
        }
        sums[r] = sum
      }
      let weights = (0..<(k * n)).map { Int8(truncatingIfNeeded: b.ints[bBatch * k * n + $0] + bShift) }
      let packed = pack(weights, k: k, n: n)
      let za = aZeros.values(aBatch).map { Int32(truncatingIfNeeded: $0 + aShift) }
      let zb = bZeros.values(bBatch).map { Int32(truncatingIfNeeded: $0 + bShift) }
      out.withUnsafeMutableBufferPointer { out in
        multiply(
          rows: rowsBuffer, lda: lda, sums: sums, packed: packed, aZeros: za, bZeros: zb, m: m, n: n, k: k,
          into: out.baseAddress! + batch * m * n, kernels: kernels)
      }
    }
    let shape = batchShape + (a.rank > 1 ? [m] : []) + (b.rank > 1 ? [n] : [])
    return .int(out.map { Int64($0) }, shape, dtype: .int32)
  }

  /// A quantization parameter of one operand of a product: one value for all, or one per row
  /// (A) or column (B), possibly per batch of the operand.
  struct PerIndex<T> {
    var values: [T]
    /// Elements per batch (1 for one value for all, else the row or column count).
    var perBatch: Int
    var batches: Int

    /// The values of operand batch `batch`.
    func values(_ batch: Int) -> ArraySlice<T> {
      let start = batches == 1 ? 0 : batch * perBatch
      return values[start..<(start + perBatch)]
    }

    /// The value of index `index` (row or column) in batch `batch`.
    func value(_ batch: Int, _ index: Int) -> T { values[(batches == 1 ? 0 : batch * perBatch) + (perBatch == 1 ? 0 : index)] }
  }

  /// Reads a parameter of `shape`: a scalar, `[count]`, or `[…, count, 1]` / `[…, 1, count]` over
  /// the operand's batches.
  /// - Throws: "A's zero point [3] is neither a scalar nor one per row (4)".
  static func perIndex<T>(_ values: [T], shape: [Int], count: Int, batches: Int, along: String, what: String) throws
    -> PerIndex<T>
  {
    let total = values.count
    if total == 1 { return PerIndex(values: values, perBatch: 1, batches: 1) }
    if total == count && shape.filter({ $0 != 1 }).count <= 1 {
      return PerIndex(values: values, perBatch: count, batches: 1)
    }
    if total == count * batches && batches > 1 {
      return PerIndex(values: values, perBatch: count, batches: batches)
    }
    throw AttncError.invalid(
      "\(what) \(shape) is neither a scalar nor one per \(along) (\(count)\(batches > 1 ? " per batch" : ""))")
  }

  /// The dims of a numpy matrix product `[…, m, k] × […, k, n]` (1-D operands as a row / a
  /// column): m, k, n, each operand's batch count, the broadcast batch dims, and per output batch
  /// the operand batches it reads.
  /// - Throws: "inner dims differ: [2, 3] × [4, 5]", batch axes that do not broadcast.
  static func productLayout(_ a: [Int], _ b: [Int]) throws
    -> (m: Int, k: Int, n: Int, aBatches: Int, bBatches: Int, batchShape: [Int], operands: [[Int]])
  {
    guard !a.isEmpty, !b.isEmpty else { throw AttncError.invalid("matrix product of a scalar: \(a) × \(b)") }
    let aShape = a.count == 1 ? [1] + a : a, bShape = b.count == 1 ? b + [1] : b
    let m = aShape[aShape.count - 2], k = aShape[aShape.count - 1], n = bShape[bShape.count - 1]
    guard bShape[bShape.count - 2] == k else { throw AttncError.invalid("inner dims differ: \(a) × \(b)") }
    let (batchShape, operands) = try Elementwise.broadcastIndices([Array(aShape.dropLast(2)), Array(bShape.dropLast(2))])
    return (m, k, n, aShape.dropLast(2).reduce(1, *), bShape.dropLast(2).reduce(1, *), batchShape, operands)
  }
}
