import CAttnc

/// SHA-256 (FIPS 180-4): plan checksums and source-model digests.
///
/// A plain one-shot implementation: the message is hashed in 64-byte blocks straight from the
/// caller's buffer; only the last one or two blocks (with the padding and the bit length) are
/// copied.
public enum SHA256 {
  /// The 32-byte digest of `bytes`.
  ///
  /// - Complexity: O(n); no allocation beyond the result and fixed scratch space.
  public static func digest(_ bytes: UnsafeRawBufferPointer) -> [UInt8] { digest(bytes, portable: false) }

  /// `digest`, on the CPU's SHA extensions where it has them (`attnc_sha256_blocks`, ~5 times
  /// the Swift loop's 0.4 GB/s) unless `portable`.
  static func digest(_ bytes: UnsafeRawBufferPointer, portable: Bool) -> [UInt8] {
    // Scratch: H0…H7, the message schedule W0…W63 and a copy of K0…K63.
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 8 + 64 + 64) { scratch in
      guard let h = scratch.baseAddress else { return [] }
      let w = h + 8
      let k = w + 64
      for index in 0..<8 { h[index] = initialHash[index] }
      for index in 0..<64 { k[index] = roundConstants[index] }
      let fullBlocks = bytes.count / 64
      func blocks(_ base: UnsafeRawPointer, _ count: Int) {
        if !portable && attnc_sha256_blocks(h, base.assumingMemoryBound(to: UInt8.self), count) != 0 { return }
        for block in 0..<count { compress(base + block * 64, hash: h, schedule: w, constants: k) }
      }
      if let base = bytes.baseAddress { blocks(base, fullBlocks) }
      // Padding: 0x80, zeros, then the message length in bits as a big-endian u64.
      let tailCount = bytes.count - fullBlocks * 64
      var tail = [UInt8](repeating: 0, count: tailCount < 56 ? 64 : 128)
      for index in 0..<tailCount {
        tail[index] = bytes[fullBlocks * 64 + index]
      }
      tail[tailCount] = 0x80
      let bitLength = UInt64(bytes.count) &* 8
      for index in 0..<8 {
        tail[tail.count - 1 - index] = UInt8(truncatingIfNeeded: bitLength >> (8 * UInt64(index)))
      }
      tail.withUnsafeBytes { padded in
        guard let base = padded.baseAddress else { return }
        blocks(base, padded.count / 64)
      }
      var result: [UInt8] = []
      result.reserveCapacity(32)
      for index in 0..<8 {
        let word = h[index]
        result.append(UInt8(truncatingIfNeeded: word >> 24))
        result.append(UInt8(truncatingIfNeeded: word >> 16))
        result.append(UInt8(truncatingIfNeeded: word >> 8))
        result.append(UInt8(truncatingIfNeeded: word))
      }
      return result
    }
  }

  /// The digest of an array's bytes.
  public static func digest(_ bytes: [UInt8]) -> [UInt8] {
    bytes.withUnsafeBytes { digest($0) }
  }

  /// `digest` as 64 lowercase hexadecimal digits (any byte array is accepted: two digits each).
  public static func hex(_ digest: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var text: [UInt8] = []
    text.reserveCapacity(digest.count * 2)
    for byte in digest {
      text.append(digits[Int(byte >> 4)])
      text.append(digits[Int(byte & 0x0f)])
    }
    return String(decoding: text, as: UTF8.self)
  }

  // MARK: - Compression function

  /// Folds the 64-byte block at `block` into `hash` (FIPS 180-4 §6.2.2), using `schedule` (64
  /// words) as scratch.
  private static func compress(
    _ block: UnsafeRawPointer, hash h: UnsafeMutablePointer<UInt32>,
    schedule w: UnsafeMutablePointer<UInt32>, constants k: UnsafeMutablePointer<UInt32>
  ) {
    for t in 0..<16 {
      w[t] = UInt32(bigEndian: block.loadUnaligned(fromByteOffset: 4 * t, as: UInt32.self))
    }
    // Rotations are spelled out (x >> n | x << (32 - n)): a helper function is not inlined in
    // debug builds, which made tests hashing a few MiB several times slower.
    for t in 16..<64 {
      let x = w[t - 15]
      let y = w[t - 2]
      let s0 = (x >> 7 | x << 25) ^ (x >> 18 | x << 14) ^ (x >> 3)
      let s1 = (y >> 17 | y << 15) ^ (y >> 19 | y << 13) ^ (y >> 10)
      w[t] = w[t - 16] &+ s0 &+ w[t - 7] &+ s1
    }
    var a = h[0]
    var b = h[1]
    var c = h[2]
    var d = h[3]
    var e = h[4]
    var f = h[5]
    var g = h[6]
    var hh = h[7]
    for t in 0..<64 {
      let sum1 = (e >> 6 | e << 26) ^ (e >> 11 | e << 21) ^ (e >> 25 | e << 7)
      let choice = (e & f) ^ (~e & g)
      let t1 = hh &+ sum1 &+ choice &+ k[t] &+ w[t]
      let sum0 = (a >> 2 | a << 30) ^ (a >> 13 | a << 19) ^ (a >> 22 | a << 10)
      let majority = (a & b) ^ (a & c) ^ (b & c)
      let t2 = sum0 &+ majority
      hh = g
      g = f
      f = e
      e = d &+ t1
      d = c
      c = b
      b = a
      a = t1 &+ t2
    }
    h[0] &+= a
    h[1] &+= b
    h[2] &+= c
    h[3] &+= d
    h[4] &+= e
    h[5] &+= f
    h[6] &+= g
    h[7] &+= hh
  }

  /// H0…H7: the first 32 bits of the fractional parts of the square roots of the first 8 primes.
  private static let initialHash: [UInt32] = [
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab,
    0x5be0_cd19,
  ]

  /// K0…K63: the first 32 bits of the fractional parts of the cube roots of the first 64 primes.
  private static let roundConstants: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4,
    0xab1c_5ed5, 0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe,
    0x9bdc_06a7, 0xc19b_f174, 0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f,
    0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da, 0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7,
    0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967, 0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc,
    0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85, 0xa2bf_e8a1, 0xa81a_664b,
    0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070, 0x19a4_c116,
    0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7,
    0xc671_78f2,
  ]
}
