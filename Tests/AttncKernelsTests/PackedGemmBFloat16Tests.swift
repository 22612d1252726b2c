import AttncKernels
import AttncTensor
import CAttnc
import Foundation
import Testing

/// `PackedGemm` on bfloat16 operands against a Double computation of the exact products of the
/// bfloat16-rounded inputs, on the vdpbf16ps tiles (where the machine has them) and the plain C
/// path, which must agree.
@Suite struct PackedGemmBFloat16Tests {
  /// `[k, n]` rounded and packed as bfloat16 pairs, carried in float32 elements.
  static func packed(_ b: [Float], k: Int, n: Int) -> Tensor {
    let shape = PackedGemm.packedShape(k: k, n: n, precision: .bfloat16)
    var words = [UInt32](repeating: 0xFFFF_FFFF, count: shape.reduce(1, *))
    b.withUnsafeBufferPointer { source in
      words.withUnsafeMutableBufferPointer { PackedGemm.packBFloat16(source.baseAddress!, k: k, n: n, into: $0.baseAddress!) }
    }
    return .float(words.map { Float(bitPattern: $0) }, shape)
  }

  /// The vector rounding of activation rows and of packed B (vcvtneps2bf16 where the machine has
  /// AVX-512 BF16, the integer emulation on other AVX-512, plain C past a multiple of 16) gives
  /// the bits of `attnc_bf16_round` on ties, NaN, ±inf, subnormals and overflow.
  @Test func vectorRoundingMatchesTheScalarBits() {
    let one = Float(1), step = Float(1) / 128
    let specials: [Float] = [
      one + step / 2, one + 3 * step / 2, -3.140625, .infinity, -.infinity, .nan, -.nan, Float(bitPattern: 0x7F80_0001),
      Float.leastNonzeroMagnitude, -Float.leastNormalMagnitude / 2, Float.leastNormalMagnitude, .greatestFiniteMagnitude, 0, -0.0,
    ]
    let k = 45
    let row = (0..<k).map { $0 < specials.count ? specials[$0] : Float($0) * 0.37 - 7 }
    var words = [UInt32](repeating: 0, count: (k + 1) / 2)
    attnc_gemm_bf16_round_rows(row, 1, k, k, &words)
    for t in 0..<k {
      let half = UInt16(truncatingIfNeeded: t % 2 == 0 ? words[t / 2] : words[t / 2] >> 16)
      #expect(half == attnc_bf16_round(row[t]), "element \(t): \(row[t])")
    }
    // B [2, n]: each column's pair word is (row 0, row 1) rounded.
    let n = 21
    let b = (0..<(2 * n)).map { row[$0 % k] }
    var packed = [UInt32](repeating: 0, count: attnc_gemm_bf16_packed_words(2, n))
    attnc_gemm_bf16_pack(b, 2, n, &packed)
    for c in 0..<n {
      let word = packed[(c / 16) * 16 + c % 16]
      #expect(UInt16(truncatingIfNeeded: word) == attnc_bf16_round(b[c]) && UInt16(word >> 16) == attnc_bf16_round(b[n + c]), "column \(c)")
    }
  }

  /// A line of pair words (ConvTranspose's pair lines): low and high rounded as the packing
  /// rounds them, over vector widths and a tail; no word past n written.
  @Test func pairRowInterleavesTwoRoundedLines() {
    for n in [1, 15, 16, 37] {
      let low = (0..<n).map { Float($0) * 0.731 - 5 }, high = (0..<n).map { Float($0) * -1.37 + 2.001 }
      var out = [UInt32](repeating: 0xDEAD_BEEF, count: n + 3)
      attnc_gemm_bf16_pair_row(low, high, n, &out)
      for c in 0..<n {
        #expect(UInt16(truncatingIfNeeded: out[c]) == attnc_bf16_round(low[c]) && UInt16(out[c] >> 16) == attnc_bf16_round(high[c]), "n \(n) column \(c)")
      }
      #expect(out[n...].allSatisfy { $0 == 0xDEAD_BEEF }, "n \(n): written past the line")
    }
  }

  /// Packing B from pair words at a column's offset plus its tap's gives the panels of
  /// attnc_gemm_bf16_pack's layout, zeros past n, on AVX-512 and plain C alike: columns adjacent
  /// within a panel (copied 16 at a time) and a panel that crosses from one line to the next
  /// (gathered).
  @Test(arguments: [InstructionSets.widest, .portable])
  func packShiftedCopiesEachPairFromItsOffset(kernels: InstructionSets) {
    let (units, taps, unitStride) = (3, 2, 40)
    let planes = (0..<(4 * units * unitStride)).map { UInt32($0) &* 2_654_435_761 }
    let tapOffsets = [1, units * unitStride + 2]
    // 21 columns of one line from 0, then 16 of the next line (a panel crosses the break).
    let columns = (0..<21).map { $0 } + (0..<16).map { units * unitStride + $0 }
    let n = columns.count, depth = taps * units
    var packed = [UInt32](repeating: 0xDEAD_BEEF, count: attnc_gemm_bf16_packed_words(2 * depth, n))
    attnc_gemm_bf16_pack_shifted(planes, unitStride, units, taps, tapOffsets, columns, n, &packed, kernels.rawValue)
    for (index, word) in packed.enumerated() {
      let (p, t, c) = (index / (depth * 16), index / 16 % depth, index % 16)
      let column = 16 * p + c, (j, u) = (t / units, t % units)
      let expected = column < n ? planes[u * unitStride + tapOffsets[j] + columns[column]] : 0
      #expect(word == expected, "\(kernels): panel \(p) pair \(t) column \(c)")
    }
  }

  @Test func roundsToNearestEven() {
    let one = Float(1), step = Float(1) / 128  // bfloat16's spacing at 1
    #expect(PackedGemm.roundToBFloat16(one + step / 2) == one)  // a tie: to the even 1
    #expect(PackedGemm.roundToBFloat16(one + 3 * step / 2) == one + 2 * step)  // a tie: to the even 1 + 2/128
    #expect(PackedGemm.roundToBFloat16(one + step / 2 + step / 64) == one + step)  // above the tie
    #expect(PackedGemm.roundToBFloat16(-3.140625) == -3.140625)  // exact in bfloat16
    #expect(PackedGemm.roundToBFloat16(.infinity) == .infinity)
    #expect(PackedGemm.roundToBFloat16(.nan).isNaN)
    #expect(PackedGemm.roundToBFloat16(Float.greatestFiniteMagnitude) == .infinity)  // rounds up past the largest bfloat16
  }

  @Test func packingHalvesTheBytesAndPadsWithZeros() {
    for (k, n) in [(1, 1), (7, 15), (6, 16), (3, 33)] {
      let b = (0..<(k * n)).map { Float($0 % 200) + 1 }  // exact in bfloat16
      let panels = Self.packed(b, k: k, n: n)
      #expect(panels.count == PackedGemm.packedShape(k: k, n: n, precision: .bfloat16).reduce(1, *))
      #expect(2 * panels.count == PackedGemm.packedCount(k: 2 * ((k + 1) / 2), n: n))  // half the bytes
      // Word (p, q, c) holds b[2q][16p + c] and b[2q + 1][16p + c], 0 past k or n.
      let depth = (k + 1) / 2
      for (index, value) in panels.floats.enumerated() {
        let word = value.bitPattern
        let (p, q, c) = (index / (depth * 16), index / 16 % depth, index % 16)
        let column = 16 * p + c
        let low = column < n ? b[2 * q * n + column] : 0
        let high = column < n && 2 * q + 1 < k ? b[(2 * q + 1) * n + column] : 0
        #expect(Float(bitPattern: word << 16) == low && Float(bitPattern: word & 0xFFFF_0000) == high, "k \(k) n \(n) word \(index)")
      }
    }
  }

  /// M = 1 rows, an empty depth (k = 0: alpha · 0 plus the addends), odd k, k not a multiple of 32, two depth passes (k > 512), partial strips and
  /// column tails; every epilogue: none, bias, bias + residual, a one-element bias; each
  /// activation.
  @Test(arguments: [InstructionSets.widest, .portable])
  func matchesTheExactProductOfTheRoundedInputs(kernels: InstructionSets) throws {
    for (batch, m, k, n) in [(1, 1, 1, 1), (1, 14, 0, 33), (1, 1, 33, 17), (1, 13, 7, 15), (2, 25, 601, 50), (1, 40, 64, 33), (1, 130, 257, 70)] {
      let rows = batch * m
      let (a, b, sets) = PackedGemmTests.operands(batch: batch, m: m, k: k, n: n)
      let roundedA = a.map(PackedGemm.roundToBFloat16), roundedB = b.map(PackedGemm.roundToBFloat16)
      for addends in sets {
        for activation in ["none", "gelu", "gelu_tanh", "relu"] {
          let y = try PackedGemm.multiply(
            .float(a, [batch, m, k]), packed: Self.packed(b, k: k, n: n), columns: n, addends: addends.map(\.0),
            alpha: 0.5, activation: activation, precision: .bfloat16, kernels: kernels)
          let expected = PackedGemmTests.reference(
            roundedA, roundedB, rows: rows, k: k, n: n, alpha: 0.5, addends: addends.map(\.1), activation: activation)
          #expect(y.shape == [batch, m, n])
          let worst = zip(y.floats, expected).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 0
          #expect(worst < 1e-4, "\(kernels) [\(batch), \(m), \(k)] × [\(k), \(n)], \(addends.count) addends, \(activation): \(worst)")
        }
      }
    }
  }

  /// The vdpbf16ps tiles and the plain C path sum the same products in the same order.
  @Test func dotAndPlainPathsAgree() throws {
    var generator = SystemRandomNumberGenerator()
    let (m, k, n) = (37, 301, 45)
    let a = (0..<(m * k)).map { _ in Float.random(in: -2...2, using: &generator) }
    let b = (0..<(k * n)).map { _ in Float.random(in: -2...2, using: &generator) }
    let packed = Self.packed(b, k: k, n: n)
    let results = try [InstructionSets.widest, .portable].map { kernels in
      try PackedGemm.multiply(
        .float(a, [m, k]), packed: packed, columns: n, addends: [], alpha: 1, activation: "none", precision: .bfloat16,
        kernels: kernels
      ).floats.map { $0 }
    }
    let worst = zip(results[0], results[1]).map { abs($0 - $1) / max(1, abs($1)) }.max() ?? 0
    #expect(worst < 1e-5, "dot \(PackedGemm.bfloat16UsesDot): \(worst)")
  }

  /// `ATTNC_GEMM_NO_BF16_DOT=1` forces the plain C path at the widest setting (what a CPU without
  /// AVX-512 BF16 runs); its results are those of `.portable` bit for bit.
  @Test func environmentForcesThePlainPath() throws {
    let (m, k, n) = (9, 35, 20)
    let a = (0..<(m * k)).map { Float($0 % 13) * 0.37 - 2 }
    let b = (0..<(k * n)).map { Float($0 % 11) * 0.21 - 1 }
    let packed = Self.packed(b, k: k, n: n)
    func run(_ kernels: InstructionSets) throws -> [Float] {
      try PackedGemm.multiply(
        .float(a, [m, k]), packed: packed, columns: n, addends: [], alpha: 1, activation: "none", precision: .bfloat16,
        kernels: kernels
      ).floats.map { $0 }
    }
    setenv("ATTNC_GEMM_NO_BF16_DOT", "1", 1)
    defer { unsetenv("ATTNC_GEMM_NO_BF16_DOT") }
    #expect(!PackedGemm.bfloat16UsesDot)
    #expect(try run(.widest) == run(.portable))
  }

  @Test func refusesAFloat32PackingAtBFloat16() {
    let panels = PackedGemmTests.packed([Float](repeating: 1, count: 12), k: 3, n: 4)
    #expect(throws: AttncError.self) {
      try PackedGemm.multiply(
        .float([1, 2, 3], [1, 3]), packed: panels, columns: 4, addends: [], alpha: 1, activation: "none",
        precision: .bfloat16)
    }
  }
}
