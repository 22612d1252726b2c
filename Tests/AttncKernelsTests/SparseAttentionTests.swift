@testable import AttncKernels
import AttncTensor
import AttncTestSupport
import CAttnc
import Foundation
import Testing

/// Skip-softmax (`softmax:skip=λ`) and block-sparse attention (`blocksparse`) against Double
/// references of their own math: the skip rule replayed tile by tile, and dense softmax over the
/// kept blocks; `λ = ∞` (and 0, off) and `τ = 1` against exact attention.
@Suite struct SparseAttentionTests {
  /// One attention's operands, `[B, H, N, d]` with GQA, of the shape `c` (its softcap unused).
  struct Operands {
    var c: TiledAttentionTests.Case
    var q: [Float] = [], k: [Float] = [], v: [Float] = []
    var batch: Int { c.batch }
    var heads: Int { c.heads }
    var kvHeads: Int { c.kvHeads }
    var queries: Int { c.queries }
    var keys: Int { c.keys }
    var depth: Int { c.depth }
    var valueDepth: Int { c.valueDepth }
    var scale: Float { c.scale }
    var causal: Bool { c.causal }

    var tensors: (q: Tensor, k: Tensor, v: Tensor) {
      (.float(q, [batch, heads, queries, depth]), .float(k, [batch, kvHeads, keys, depth]),
       .float(v, [batch, kvHeads, keys, valueDepth]))
    }

    /// Scores that vary over the keys: queries share a direction with the keys of a few
    /// "strong" key positions (every 37th key, and the first 20), so the other keys' tiles fall
    /// far under the running maximum.
    static func peaked(batch: Int = 1, heads: Int = 2, kvHeads: Int = 1, queries: Int = 70, keys: Int = 150, causal: Bool = false) -> Operands {
      var o = Operands(c: .init(
        batch: batch, heads: heads, kvHeads: kvHeads, queries: queries, keys: keys, depth: 8, valueDepth: 8, scale: 1, causal: causal))
      let noise = SeededValues.floats(batch * heads * queries * o.depth, seed: 11, amplitude: 0.5)
      o.q = noise.enumerated().map { index, x in (index % o.depth == 0 ? 3 : 0) + x }
      let keyNoise = SeededValues.floats(batch * kvHeads * keys * o.depth, seed: 12, amplitude: 1)
      o.k = keyNoise.enumerated().map { index, x in
        let j = (index / o.depth) % keys
        return index % o.depth == 0 && (j < 20 || j % 37 == 5) ? 4 + x : x
      }
      o.v = SeededValues.floats(batch * kvHeads * keys * o.valueDepth, seed: 13, amplitude: 2)
      return o
    }

    func score(_ b: Int, _ h: Int, _ i: Int, _ j: Int, add: Double) -> Double {
      let g = h / (heads / kvHeads)
      guard !(causal && j > i + keys - queries) else { return -.infinity }
      var dot = 0.0
      for t in 0..<depth { dot += Double(q[((b * heads + h) * queries + i) * depth + t]) * Double(k[((b * kvHeads + g) * keys + j) * depth + t]) }
      return dot * Double(scale) + add
    }

    func value(_ b: Int, _ h: Int, _ j: Int, _ e: Int) -> Double {
      Double(v[((b * kvHeads + h / (heads / kvHeads)) * keys + j) * valueDepth + e])
    }
  }

  /// The rows per strip of the kernels `kernels` picks on this machine.
  static func strip(_ kernels: TiledAttention.Kernels) -> Int {
    kernels == .widest && attnc_vector_math_uses_avx512() != 0 ? 12 : 6
  }

  /// Skip-softmax replayed in Double: query blocks of `queryBlock` rows in strips of `strip`
  /// rows, key blocks of `keyBlock`; a strip's key block is left out when every row's block
  /// maximum is more than `lambda` under its running maximum, else the online softmax takes it.
  static func skipReference(
    _ o: Operands, lambda: Double, queryBlock: Int, keyBlock: Int, strip: Int, add: (Int, Int, Int) -> Double = { _, _, _ in 0 }
  ) -> (y: [Float], skipped: Int) {
    var y = [Float](repeating: 0, count: o.batch * o.heads * o.queries * o.valueDepth)
    var skipped = 0
    for b in 0..<o.batch {
      for h in 0..<o.heads {
        for blockStart in stride(from: 0, to: o.queries, by: queryBlock) {
          let blockEnd = min(o.queries, blockStart + queryBlock)
          for first in stride(from: blockStart, to: blockEnd, by: strip) {
            let rows = first..<min(blockEnd, first + strip)
            var maxima = [Double](repeating: -.infinity, count: rows.count)
            var sums = [Double](repeating: 0, count: rows.count)
            var acc = [[Double]](repeating: [Double](repeating: 0, count: o.valueDepth), count: rows.count)
            for start in stride(from: 0, to: o.keys, by: keyBlock) {
              let keys = start..<min(o.keys, start + keyBlock)
              // The causal kernel never visits a block past the strip's last diagonal.
              if o.causal && start > rows.upperBound - 1 + o.keys - o.queries { continue }
              let scores = rows.map { i in keys.map { j in o.score(b, h, i, j, add: add(b, i, j)) } }
              let blockMax = scores.map { $0.max()! }
              if blockMax.indices.allSatisfy({ blockMax[$0] < maxima[$0] - lambda }) {
                skipped += 1
                continue
              }
              for r in blockMax.indices {
                let top = max(maxima[r], blockMax[r])
                guard top > -.infinity else { continue }
                let correction = maxima[r] == -.infinity ? 0 : Foundation.exp(maxima[r] - top)
                sums[r] *= correction
                for e in 0..<o.valueDepth { acc[r][e] *= correction }
                for (index, j) in keys.enumerated() where scores[r][index] > -.infinity {
                  let p = Foundation.exp(scores[r][index] - top)
                  sums[r] += p
                  for e in 0..<o.valueDepth { acc[r][e] += p * o.value(b, h, j, e) }
                }
                maxima[r] = top
              }
            }
            for (r, i) in rows.enumerated() where sums[r] > 0 {
              for e in 0..<o.valueDepth { y[((b * o.heads + h) * o.queries + i) * o.valueDepth + e] = Float(acc[r][e] / sums[r]) }
            }
          }
        }
      }
    }
    return (y, skipped)
  }

  /// Dense softmax over the visible keys of the kept blocks, in Double: `kept(b, h, i, j)`.
  static func keptReference(_ o: Operands, kept: (Int, Int, Int, Int) -> Bool, add: (Int, Int, Int) -> Double = { _, _, _ in 0 }) -> [Float] {
    var y = [Float](repeating: 0, count: o.batch * o.heads * o.queries * o.valueDepth)
    for b in 0..<o.batch {
      for h in 0..<o.heads {
        for i in 0..<o.queries {
          let scores = (0..<o.keys).map { j in kept(b, h, i, j) ? o.score(b, h, i, j, add: add(b, i, j)) : -.infinity }
          let top = scores.max()!
          guard top > -.infinity else { continue }
          let weights = scores.map { Foundation.exp($0 - top) }
          let total = weights.reduce(0, +)
          for e in 0..<o.valueDepth {
            let sum = (0..<o.keys).reduce(0.0) { $0 + weights[$1] * o.value(b, h, $1, e) }
            y[((b * o.heads + h) * o.queries + i) * o.valueDepth + e] = Float(sum / total)
          }
        }
      }
    }
    return y
  }

  static func run(_ o: Operands, _ mask: TiledAttention.Mask = .none, counts: TileCounts? = nil, configure: (inout TiledAttention.Options) -> Void) throws -> [Float] {
    var options = TiledAttention.Options(scale: o.scale, causal: o.causal)
    options.rowKernel = false
    configure(&options)
    let (q, k, v) = o.tensors
    let body = { try TiledAttention.run(q: q, k: k, v: v, mask: mask, options: options).floats.owned }
    return try counts.map { try $0.measure(body) } ?? body()
  }
}

// MARK: - Skip-softmax

extension SparseAttentionTests {
  @Test(arguments: TiledAttention.Kernels.allCases, [false, true])
  func skipMatchesItsReplay(_ kernels: TiledAttention.Kernels, _ causal: Bool) throws {
    let o = Operands.peaked(batch: 2, heads: 4, kvHeads: 2, queries: 70, keys: 150, causal: causal)
    let counts = TileCounts()
    let y = try Self.run(o, counts: counts) { options in
      (options.skipBelow, options.queryBlock, options.keyBlock, options.kernels) = (6, 40, 32, kernels)
    }
    let (expected, skipped) = Self.skipReference(o, lambda: 6, queryBlock: 40, keyBlock: 32, strip: Self.strip(kernels))
    #expect(skipped > 0, "the case must skip tiles")
    #expect(counts.skipped.reduce(0, +) > 0 && counts.density < 1, "density \(counts.density)")
    let worst = Reference.maxDifference(y, expected)
    #expect(worst < 1e-4, "\(kernels) causal \(causal): max abs error \(worst)")
    // Skipping changed the output: the test is not the exact kernel's.
    let exact = Self.keptReference(o) { _, _, _, _ in true }
    #expect(Reference.maxDifference(exact, expected) > 1e-6)
  }

  /// With a mask: key padding and a per-key bias go into the scores the rule compares.
  @Test func skipHonoursMasks() throws {
    let o = Operands.peaked(batch: 2, heads: 2, kvHeads: 1, queries: 50, keys: 130, causal: true)
    let padding = (0..<260).map { $0 % 130 < 120 || $0 < 130 ? Int64(1) : 0 }
    let y = try Self.run(o, .keyPadding(.int(padding, [2, 130]), fill: -.infinity)) { options in
      (options.skipBelow, options.queryBlock, options.keyBlock) = (5, 64, 32)
    }
    let expected = Self.skipReference(o, lambda: 5, queryBlock: 64, keyBlock: 32, strip: Self.strip(.widest)) { b, _, j in
      padding[b * 130 + j] == 0 ? -.infinity : 0
    }
    #expect(expected.skipped > 0)
    #expect(Reference.maxDifference(y, expected.y) < 1e-4)
  }

  /// λ = ∞ and λ = 0 (off) are the exact kernel, bit for bit; the bfloat16 kernel skips too.
  @Test func infiniteLambdaIsExact() throws {
    let o = Operands.peaked(heads: 2, queries: 90, keys: 200, causal: true)
    let plain = try Self.run(o) { $0.keyBlock = 32 }
    for lambda: Float in [0, .infinity] {
      #expect(try Self.run(o) { ($0.keyBlock, $0.skipBelow) = (32, lambda) } == plain)
    }
    #expect(Reference.maxDifference(plain, Self.keptReference(o) { _, _, _, _ in true }) < 1e-5)
    let counts = TileCounts()
    let rounded = try Self.run(o, counts: counts) { ($0.keyBlock, $0.skipBelow, $0.precision) = (32, 6, .bfloat16) }
    #expect(counts.density < 1 && !rounded.contains { $0.isNaN })
  }

  /// `f32heads` keeps heads exact: they never skip.
  @Test func float32HeadsDoNotSkip() throws {
    let o = Operands.peaked(heads: 2, queries: 60, keys: 150)
    let counts = TileCounts()
    _ = try Self.run(o, counts: counts) { ($0.keyBlock, $0.skipBelow, $0.float32Heads) = (32, 6, 0b10) }
    #expect(counts.densities[0] < 1 && counts.densities[1] == 1)
  }

  /// `softmax:skip=λ` parses, prints and reaches the kernel through the plan's call; it is not
  /// exact attention, `softmax:skip=0` is.
  @Test func skipIsAVariantParameter() throws {
    let (definition, parameters) = try AttentionVariants.parse("softmax:skip=6")
    #expect(definition.text(parameters.values) == "softmax:skip=6" && !definition.isExact(parameters))
    #expect(definition.timedSetting(parameters) == "softmax:skip=1000")
    #expect(try AttentionVariants.parse("softmax:prec=bf16").0.timedSetting(try AttentionVariants.parse("softmax:prec=bf16").1) == "softmax:prec=bf16")
    let off = try AttentionVariants.parse("softmax:skip=0")
    #expect(off.1.values.isEmpty && off.0.isExact(off.1))
    #expect(throws: AttncError.self) { try AttentionVariants.parse("softmax:skip=-1") }
    let o = Operands.peaked(heads: 2, queries: 60, keys: 300)
    let (q, k, v) = o.tensors
    #expect(Reference.maxDifference(
      try TiledAttentionTests.viaCall(q, k, v, scale: o.scale, ["skip": 3]),
      try TiledAttentionTests.viaCall(q, k, v, scale: o.scale, [:])) > 1e-6)
  }
}

// MARK: - Block-sparse

extension SparseAttentionTests {
  /// The kept blocks of `selection` for `o` (as the kernel receives them).
  static func kept(_ o: Operands, _ selection: BlockSelection, causal: Bool) throws -> [UInt8] {
    let (q, k, _) = o.tensors
    var options = TiledAttention.Options(scale: o.scale, causal: causal)
    options.blockSparsity = selection
    let g = TiledAttention.Geometry(
      batch: o.batch, heads: o.heads, kvHeads: o.kvHeads, queries: o.queries, keys: o.keys, depth: o.depth,
      valueDepth: o.valueDepth, queryBlock: selection.block, keyBlock: selection.block)
    return try selection.keptBlocks(q: q, k: k, term: nil, geometry: g, options: options)
  }

  @Test(arguments: TiledAttention.Kernels.allCases, [false, true])
  func blockSparseIsDenseSoftmaxOnTheKeptBlocks(_ kernels: TiledAttention.Kernels, _ causal: Bool) throws {
    let o = Operands.peaked(batch: 2, heads: 4, kvHeads: 2, queries: 150, keys: 170, causal: causal)
    let selection = BlockSelection(tau: 0.8, block: 32)
    let mask = try Self.kept(o, selection, causal: causal)
    let (queryBlocks, keyBlocks) = ((o.queries + 31) / 32, (o.keys + 31) / 32)
    let counts = TileCounts()
    let y = try Self.run(o, counts: counts) { ($0.blockSparsity, $0.kernels) = (selection, kernels) }
    let expected = Self.keptReference(o) { b, h, i, j in
      mask[((b * o.heads + h) * queryBlocks + i / 32) * keyBlocks + j / 32] != 0
    }
    #expect(mask.contains(0) && counts.density < 1, "the case must leave blocks out (density \(counts.density))")
    let worst = Reference.maxDifference(y, expected)
    #expect(worst < 1e-4, "\(kernels) causal \(causal): max abs error \(worst)")
  }

  /// The fewest largest of `shares` whose sum reaches `tau` of their total, and `forced`.
  static func kept(shares: [Double], tau: Double, forced: Set<Int>) -> Set<Int> {
    let total = shares.reduce(0, +)
    var result = forced
    var mass = 0.0
    for j in shares.indices.sorted(by: { shares[$0] > shares[$1] }) where mass < tau * total {
      result.insert(j)
      mass += shares[j]
    }
    return result
  }

  /// The selection replayed in Double: per query block the estimated shares
  /// `softmax_J(scale·q̄·k̄_J + log n_J)` over the visible key blocks, the fewest largest reaching
  /// τ, plus the first block and the diagonal's.
  @Test(arguments: [false, true])
  func selectionKeepsTheLargestEstimatedSharesUntilTau(_ causal: Bool) throws {
    let o = Operands.peaked(heads: 2, queries: 200, keys: 200, causal: causal)
    let (block, tau) = (32, 0.9)
    let mask = try Self.kept(o, BlockSelection(tau: tau, block: block), causal: causal)
    let (queryBlocks, keyBlocks) = ((o.queries + block - 1) / block, (o.keys + block - 1) / block)
    func mean(_ x: [Float], head: Int, block index: Int, count: Int) -> [Double] {
      let rows = (index * block)..<min(count, (index + 1) * block)
      var sums = [Double](repeating: 0, count: o.depth)
      for r in rows { for t in 0..<o.depth { sums[t] += Double(x[(head * count + r) * o.depth + t]) } }
      return sums.map { $0 / Double(rows.count) }
    }
    for h in 0..<o.heads {
      for i in 0..<queryBlocks {
        let last = min(o.queries, (i + 1) * block) - 1
        let visible = causal ? last / block + 1 : keyBlocks
        let qm = mean(o.q, head: h, block: i, count: o.queries)
        let shares = (0..<visible).map { j -> Double in
          let km = mean(o.k, head: 0, block: j, count: o.keys)
          let n = Double(min(o.keys, (j + 1) * block) - j * block)
          let dot: Double = zip(qm, km).reduce(0.0) { $0 + $1.0 * $1.1 }
          return dot * Double(o.scale) + Foundation.log(n)
        }
        let top = shares.max()!
        let expected = Self.kept(shares: shares.map { Foundation.exp($0 - top) }, tau: tau, forced: [0, i])
        let row = (0..<keyBlocks).filter { mask[(h * queryBlocks + i) * keyBlocks + $0] != 0 }
        #expect(Set(row) == expected, "head \(h) query block \(i)")
      }
    }
  }

  /// The antidiagonal estimate (XAttention) replayed in Double: per group of S query rows the
  /// sums `Σ_t q_{aS+S−1−t}·k_{bS+t}·scale/S` over the key groups it sees, a softmax, summed per
  /// key block and over the block's groups; then the fewest largest shares reaching τ, plus the
  /// first block and the diagonal's.
  @Test(arguments: [false, true])
  func antidiagonalSelectionMatchesItsReplay(_ causal: Bool) throws {
    let o = Operands.peaked(heads: 1, queries: 160, keys: 160, causal: causal)
    let (block, stride, tau) = (32, 4, 0.9)
    let mask = try Self.kept(o, BlockSelection(tau: tau, block: block, stride: stride), causal: causal)
    let blocks = 5
    for i in 0..<blocks {
      let visible = causal ? i + 1 : blocks
      var shares = [Double](repeating: 0, count: visible)
      for a in Swift.stride(from: i * block, to: (i + 1) * block, by: stride) {
        let limit = causal ? min(visible * block, a + stride) : visible * block
        let groups = (limit + stride - 1) / stride
        var scores = [Double](repeating: 0, count: groups)
        for b in 0..<groups {
          for t in 0..<stride {
            let (row, key) = (a + stride - 1 - t, b * stride + t)
            for e in 0..<o.depth { scores[b] += Double(o.q[row * o.depth + e]) * Double(o.k[key * o.depth + e]) }
          }
          scores[b] *= Double(o.scale) / Double(stride)
        }
        let top = scores.max()!
        let total = scores.reduce(0.0) { $0 + Foundation.exp($1 - top) }
        for b in 0..<groups { shares[b * stride / block] += Foundation.exp(scores[b] - top) / total }
      }
      let expected = Self.kept(shares: shares, tau: tau, forced: [0, i])
      #expect(Set((0..<blocks).filter { mask[i * blocks + $0] != 0 }) == expected, "query block \(i)")
    }
    #expect(mask.contains(0))
  }

  /// τ = 1 keeps every block: exact attention (to the Double reference, and bit for bit the
  /// dense kernel at the same blocks); dense heads keep every block.
  @Test func tauOneIsExact() throws {
    let o = Operands.peaked(heads: 2, queries: 130, keys: 130, causal: true)
    let y = try Self.run(o) { $0.blockSparsity = BlockSelection(tau: 1, block: 64) }
    #expect(Reference.maxDifference(y, Self.keptReference(o) { _, _, _, _ in true }) < 1e-5)
    #expect(try Self.run(o) { ($0.queryBlock, $0.keyBlock) = (64, 64) } == y)
    let counts = TileCounts()
    _ = try Self.run(o, counts: counts) { $0.blockSparsity = BlockSelection(tau: 0.6, block: 32, denseHeads: 0b1) }
    #expect(counts.densities[0] == 1 && counts.densities[1] < 1)
  }

  /// Key padding: the kernel masks within the kept blocks, the estimate weighs blocks by their
  /// unpadded keys; `blocksparse` parses and runs through the plan's call with it.
  @Test func blockSparseThroughTheCallWithKeyPadding() throws {
    let o = Operands.peaked(batch: 2, heads: 2, kvHeads: 2, queries: 100, keys: 100)
    let padding = (0..<200).map { $0 < 100 || $0 % 100 < 70 ? Int64(1) : 0 }
    let (definition, parameters) = try AttentionVariants.parse("blocksparse:tau=0.8,block=32")
    #expect(definition.text(parameters.values) == "blocksparse:block=32,tau=0.8")
    #expect(definition.timedSetting(parameters) == "blocksparse:block=64,tau=1" && !definition.isExact(parameters))
    #expect(definition.refusal(causal: true, mask: "additive_bias", softcap: 2) == nil)
    let (q, k, v) = o.tensors
    let call = FusedAttentionCall(
      scale: o.scale, causal: false, softcap: 0, mask: .keyPadding, maskFill: -.infinity, variant: "blocksparse",
      variantValues: parameters.values)
    let counts = TileCounts()
    let y = try counts.measure { try call.evaluate(KernelContext(), [q, k, v, .int(padding, [2, 100])])[0].floats.owned }
    #expect(counts.density < 1)
    // Every kept block's visible keys, dense: the same pairs the counters saw.
    var options = TiledAttention.Options(scale: o.scale)
    options.blockSparsity = BlockSelection(tau: 0.8, block: 32)
    let g = TiledAttention.Geometry(
      batch: 2, heads: 2, kvHeads: 2, queries: 100, keys: 100, depth: o.depth, valueDepth: o.valueDepth, queryBlock: 32, keyBlock: 32)
    let term = try TiledAttention.additiveTerm(.keyPadding(.int(padding, [2, 100]), fill: -.infinity), batch: 2, heads: 2, queries: 100, keys: 100)
    let mask = try options.blockSparsity!.keptBlocks(q: q, k: k, term: term, geometry: g, options: options)
    let expected = Self.keptReference(o, kept: { b, h, i, j in mask[((b * 2 + h) * 4 + i / 32) * 4 + j / 32] != 0 }) { b, _, j in
      padding[b * 100 + j] == 0 ? -.infinity : 0
    }
    #expect(Reference.maxDifference(y, expected) < 1e-4)
  }
}
