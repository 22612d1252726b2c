import AttncTensor

/// The weights of ONNX Runtime's `com.microsoft.MatMulNBits`: a logical `[K, N]` float matrix
/// stored per output column `n` as `k_blocks = ⌈K / block_size⌉` blocks of `block_size` values of
/// `bits` bits (2, 4 or 8), packed low bits first along K (`B [N, k_blocks, block_size·bits/8]`
/// bytes), each block with a scale and a zero point:
/// `W[k][n] = (q − zero_point) · scale`. Zero points are packed like B
/// (`[N, ⌈k_blocks·bits/8⌉]` bytes) or unpacked floats (`[N, k_blocks]`); without them the zero
/// point is `2^(bits−1)`. The deprecated `g_idx` (`[K]`) gives each k its block instead of
/// `k / block_size`.
public enum BlockQuantizedWeights {
  /// The geometry of one weight.
  public struct Layout: Sendable, Equatable, Codable {
    public var k: Int
    public var n: Int
    public var bits: Int
    public var blockSize: Int
    enum CodingKeys: String, CodingKey { case k = "K", n = "N", bits, blockSize = "block_size" }

    public init(k: Int, n: Int, bits: Int, blockSize: Int) {
      (self.k, self.n, self.bits, self.blockSize) = (k, n, bits, blockSize)
    }

    public var blocks: Int { (k + blockSize - 1) / max(1, blockSize) }
    public var blobBytes: Int { blockSize * bits / 8 }
    /// Bytes per column of packed zero points.
    public var zeroPointBytes: Int { (blocks * bits + 7) / 8 }

    /// Throws unless the attributes describe a weight this kernel reads.
    /// - Throws: "bits 3 is not 2, 4 or 8", "block_size 12 is not a power of two ≥ 16".
    public func validate() throws {
      guard [2, 4, 8].contains(bits) else { throw AttncError.unsupported("MatMulNBits: bits \(bits) is not 2, 4 or 8") }
      guard blockSize >= 16, blockSize & (blockSize - 1) == 0 else {
        throw AttncError.invalid("MatMulNBits: block_size \(blockSize) is not a power of two ≥ 16")
      }
      guard k > 0, n > 0 else { throw AttncError.invalid("MatMulNBits: K \(k) and N \(n) must be positive") }
    }
  }

  /// The `[K, N]` float weight, row-major.
  /// - Throws: inputs whose shapes or types do not fit the layout, a g_idx entry out of range.
  public static func dequantize(
    _ b: Tensor, scales: Tensor, zeroPoints: Tensor?, groupIndex: Tensor?, layout: Layout
  ) throws -> [Float] {
    try layout.validate()
    let (k, n, bits, blocks) = (layout.k, layout.n, layout.bits, layout.blocks)
    guard b.dtype == .uint8, b.count == n * blocks * layout.blobBytes else {
      throw AttncError.invalid(
        "MatMulNBits: B \(b.dtype)\(b.shape) is not uint8 [\(n), \(blocks), \(layout.blobBytes)]")
    }
    guard scales.isFloat, scales.count == n * blocks else {
      throw AttncError.invalid("MatMulNBits: scales \(scales.shape) do not hold \(n) × \(blocks) blocks")
    }
    if let zeroPoints {
      let packedCount = n * layout.zeroPointBytes
      guard zeroPoints.isFloat ? zeroPoints.count == n * blocks : zeroPoints.dtype == .uint8 && zeroPoints.count == packedCount
      else {
        throw AttncError.invalid(
          "MatMulNBits: zero_points \(zeroPoints.dtype)\(zeroPoints.shape) are neither uint8 [\(n), \(layout.zeroPointBytes)] nor floats [\(n), \(blocks)]")
      }
    }
    var blockOf = (0..<k).map { $0 / layout.blockSize }
    if let groupIndex {
      guard groupIndex.count == k, groupIndex.ints.allSatisfy({ $0 >= 0 && $0 < Int64(blocks) }) else {
        throw AttncError.invalid("MatMulNBits: g_idx \(groupIndex.shape) is not \(k) block indices below \(blocks)")
      }
      blockOf = groupIndex.ints.map { Int($0) }
    }
    let mask = (1 << bits) - 1, perByte = 8 / bits
    let defaultZero = Float(1 << (bits - 1))
    var out = [Float](repeating: 0, count: k * n)
    let scaleValues = scales.floats
    for column in 0..<n {
      let base = column * blocks * layout.blobBytes
      for t in 0..<k {
        // Element t is stored in block t / block_size (whatever g_idx says), so at bit t·bits.
        let byte = Int(b.ints[base + t / perByte])
        let q = Float((byte >> ((t % perByte) * bits)) & mask)
        let block = blockOf[t]
        let zero: Float
        if let zeroPoints {
          if zeroPoints.isFloat {
            zero = zeroPoints.floats[column * blocks + block]
          } else {
            let packed = Int(zeroPoints.ints[column * layout.zeroPointBytes + block / perByte])
            zero = Float((packed >> ((block % perByte) * bits)) & mask)
          }
        } else {
          zero = defaultZero
        }
        out[t * n + column] = (q - zero) * scaleValues[column * blocks + block]
      }
    }
    return out
  }
}
