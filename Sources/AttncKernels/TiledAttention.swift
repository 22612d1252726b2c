import AttncTensor
import CAttnc
import Foundation

/// Exact attention, fused and tiled: `Y = softmax(softcap(scale·Q·Kᵀ) + mask) · V`.
///
/// Work is split over (batch, query head, query block). Each query block walks the key blocks
/// with an online softmax (running row maximum `m` and sum `l`; the partial output is rescaled by
/// `e^{m_old − m_new}` when the maximum grows), so the `S×L` scores never exist: extra memory is
/// a copy of K packed in panels and a `12 × keyBlock` score strip per thread. The loops are C
/// (`attnc_attention_run`): register-blocked `Q·Kᵀ` and `P·V` tiles of 6 query rows, with the
/// exponentials fused between them, 8-wide AVX2/FMA where the machine has it. A query
/// head reads key/value head `h / (Hq / Hkv)` in place (GQA without repeating K and V). Causal
/// attention (bottom-right aligned: query `i` sees keys `j ≤ i + L − S`) skips the key blocks past
/// the diagonal. A row whose keys are all masked with −inf (or all weigh 0) gives zeros, not NaN:
/// what SDPA exports' guard `Where(IsNaN(p), 0, p)` defines. With a finite `causalFill`, rows
/// that see only padded keys are the softmax over all keys instead (`recomputeFullyMaskedRows`),
/// as eager exports' masks compute them.
///
/// In `bfloat16` precision (`softmax:prec=bf16`) Q, K, V and each tile's probabilities are rounded
/// to bfloat16 and multiplied with float32 accumulation (AVX512-BF16 `vdpbf16ps` where the machine
/// has it: K and V packed as bfloat16 once per call; elsewhere the float32 loops on rounded
/// operands); maxima, exponentials and sums stay float32. In `int8` precision
/// (`softmax:prec=int8`, SageAttention's scheme, `attnc_attention_int8.h`) K is smoothed by its
/// mean over the keys (exact for the softmax; skipped under a softcap, where it is not), Q and K
/// are quantized to int8 per block (16 query rows, 32 keys) and `Q·Kᵀ` sums their products
/// exactly in int32 (AVX512-VNNI where the machine has it, else plain C), dequantized by the two
/// scales; the softmax and `P·V` run as in bfloat16. In `int8pv` (`softmax:prec=int8pv`) `P·V` is
/// 8-bit too, after SageAttention2: the probabilities of each row and panel of 32 keys as uint8
/// against the panel's largest, V per value column in int8, the products exact in int32 per panel;
/// the softmax in float32. A decoding step (the row kernel) stays
/// float32: it is bound by reading the cache, not by the products.
public enum TiledAttention {
  /// The precision of the products `Q·Kᵀ` and `P·V` (`attnc_attention_tile.h`).
  public enum Precision: Int32, Sendable, CaseIterable {
    case float32 = 0, bfloat16 = 1, int8 = 2
    /// `Q·Kᵀ` as `int8`, and `P·V` in 8 bits too: uint8 probabilities (per row and panel of 32
    /// keys against the panel's largest) times int8 V (per value column), `attnc_attention_int8.h`.
    case int8pv = 3

    /// The name `softmax:prec=` takes (`f32`, `bf16`, `int8`, `int8pv`).
    public var name: String {
      switch self {
      case .float32: "f32"
      case .bfloat16: "bf16"
      case .int8: "int8"
      case .int8pv: "int8pv"
      }
    }

    /// Whether `Q·Kᵀ` runs in int8 (`int8`, `int8pv`).
    public var quantizesScores: Bool { self == .int8 || self == .int8pv }
  }

  /// The mask, in the form the kernel adds it to score tiles.
  public enum Mask {
    case none
    /// `[B, L]`; where the value is 0 the score gets `fill` added.
    case keyPadding(Tensor, fill: Float)
    /// Broadcasts to `[B, Hq, S, L]`.
    case bias(Tensor)
    /// `[B, L]` float, non-negative: key `j` counts `w_j` times (proportional attention), added
    /// to the scores as `log w_j` (−inf where `w_j = 0`).
    case keyWeights(Tensor)
  }

  public typealias Kernels = InstructionSets

  /// How the kernel scores, cuts and tiles one attention.
  public struct Options: Sendable {
    public var scale: Float
    public var causal = false
    /// What the model adds past the diagonal (`AttentionScores.causalFill`): −inf, or a finite
    /// value that decides the rows whose visible keys are all padded.
    public var causalFill: Float = -.infinity
    /// Rows whose probabilities are NaN (a NaN score) give zeros instead of NaN: the NaN guard
    /// of SDPA exports (`AttentionScores.zeroNaNRows`).
    public var zeroNaNRows = false
    public var softcap: Float = 0
    public var queryBlock = 256
    /// Keys per online-softmax step, rounded up to the kernel's panel width (16).
    public var keyBlock = 512
    /// The widest instruction set the kernel may use (tests run each on one machine).
    public var kernels: Kernels = .widest
    /// The precision of the products.
    public var precision: Precision = .float32
    /// Query heads that stay float32 under bfloat16, int8 or int8pv precision (bit `h`: head `h`), the
    /// policy's per-head choice (`softmax:prec=bf16,f32heads=0+3`).
    public var float32Heads: UInt64 = 0
    /// Query heads that run bfloat16 under int8 or int8pv precision (`softmax:bf16heads=1,prec=int8`).
    public var bfloat16Heads: UInt64 = 0

    /// The precision query head `h` runs in.
    public func precision(ofHead h: Int) -> Precision {
      guard h < 64 else { return precision }
      if float32Heads & (1 << UInt64(h)) != 0 { return .float32 }
      return precision.quantizesScores && bfloat16Heads & (1 << UInt64(h)) != 0 ? .bfloat16 : precision
    }
    /// The skip-softmax threshold of query head `h` (0: it never skips).
    public func skipBelow(ofHead h: Int) -> Float {
      h < 64 && float32Heads & (1 << UInt64(h)) != 0 ? 0 : skipBelow
    }
    /// Skip-softmax threshold λ (`softmax:skip=λ`; 0 = never skip, λ = ∞): a key block whose scores
    /// are, on every row of a query strip, more than λ under the rows' running maxima is not
    /// exponentiated nor multiplied by V. Heads of `float32Heads` never skip.
    public var skipBelow: Float = 0
    /// Block-sparse attention (`blocksparse`): only the key blocks `BlockSelection` keeps per
    /// query block are visited; nil = every block.
    public var blockSparsity: BlockSelection? = nil
    /// At most `attnc_attention_rows_limit()` query rows (a decoding step) go to the row kernel,
    /// which reads K in place; false keeps them on the tiles (tests compare the two).
    public var rowKernel = true
  }

  /// An additive mask as a base pointer and element strides per score axis (0 = broadcast).
  struct AdditiveTerm {
    /// The mask's elements where they are (a bias is read in place, not copied per call).
    var values: FloatBuffer
    var strides: (batch: Int, head: Int, query: Int, key: Int)

    func offset(batch b: Int, head h: Int, query i: Int) -> Int {
      b * strides.batch + h * strides.head + i * strides.query
    }
  }

  /// - Parameters: `q [B, Hq, S, d]`, `k [B, Hkv, L, d]`, `v [B, Hkv, L, dv]`, all float.
  /// - Returns: `[B, Hq, S, dv]`.
  /// - Throws: a message naming the operand whose shape does not fit.
  public static func run(
    q: Tensor, k: Tensor, v: Tensor, mask: Mask, options: Options, output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) throws -> Tensor {
    let (batch, heads, kvHeads, queries, keys, depth, valueDepth) = try operandShape(q: q, k: k, v: v)
    let term = try additiveTerm(mask, batch: batch, heads: heads, queries: queries, keys: keys)
    if options.rowKernel && queries <= attnc_attention_rows_limit() {
      var output = output(batch * heads * queries * valueDepth)
      try output.withUnsafeMutableBufferPointer { y in
        if let base = y.baseAddress { runRows(q: q, keys: [k], values: [v], term: term, options: options, output: base, present: nil) }
        try recomputeFullyMaskedRows(q: q, k: k, v: v, mask: mask, options: options, output: y)
      }
      return .float(output, [batch, heads, queries, valueDepth])
    }
    let panel = attnc_attention_panel_width()
    let sparse = options.blockSparsity.map { $0.rounded(toPanel: panel) }
    let keyBlock = sparse?.block ?? (max(1, min(options.keyBlock, keys)) + panel - 1) / panel * panel
    let geometry = Geometry(
      batch: batch, heads: heads, kvHeads: kvHeads, queries: queries, keys: keys, depth: depth, valueDepth: valueDepth,
      queryBlock: sparse?.block ?? max(1, min(options.queryBlock, queries)), keyBlock: keyBlock)
    // Block-sparse: per (batch, query head, query block) the key blocks it visits.
    let kept = try sparse.map { try $0.keptBlocks(q: q, k: k, term: term, geometry: geometry, options: options) } ?? []
    let counter = TileCounts.current
    // Every row is written by its query block (`attnc_attention_run` clears y first).
    var output = output(batch * heads * queries * valueDepth)
    let termValues = term?.values ?? []
    // Each key head once as panels: `packedHead` floats per (batch, key/value head).
    let layout = PackedLayout(options, batch: batch, heads: heads, kvHeads: kvHeads, keys: keys, depth: depth, valueDepth: valueDepth)
    // Every float is written by `layout.pack` (panels padded with zeros).
    var packed = [Float](unsafeUninitializedCapacity: layout.count) { _, count in count = layout.count }
    k.floats.withUnsafeBufferPointer { kp in
      v.floats.withUnsafeBufferPointer { vp in
        packed.withUnsafeMutableBufferPointer { pp in
          let (kp, vp, pp) = (kp.baseAddress!, vp.baseAddress!, pp.baseAddress!)
          Parallel.chunks(
            batch * kvHeads, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(1, keys * (depth + valueDepth))),
            partsPerThread: Parallel.balancingParts
          ) { range in
            for head in range { layout.pack(head, k: kp, v: vp, into: pp, kernels: options.kernels.rawValue) }
          }
        }
      }
    }
    q.floats.withUnsafeBufferPointer { qp in
      packed.withUnsafeBufferPointer { kp in
        v.floats.withUnsafeBufferPointer { vp in
          termValues.withUnsafeBufferPointer { tp in
            output.withUnsafeMutableBufferPointer { yp in
              let blocksPerHead = (queries + geometry.queryBlock - 1) / geometry.queryBlock
              let items = batch * heads * blocksPerHead
              let itemProducts = geometry.queryBlock * keys * (depth + valueDepth)
              var counts = [Int](repeating: 0, count: counter == nil ? 0 : 3 * items)
              kept.withUnsafeBufferPointer { kept in
                counts.withUnsafeMutableBufferPointer { counts in
                  let operands = Operands(
                    q: qp.baseAddress!, packed: kp.baseAddress!, layout: layout, v: vp.baseAddress!, y: yp.baseAddress!, term: term == nil ? nil : tp.baseAddress!,
                    kept: sparse == nil ? nil : kept.baseAddress, counts: counter == nil ? nil : counts.baseAddress)
                  Parallel.chunks(
                    items, minimumPerChunk: max(1, Parallel.productsPerChunk / max(1, itemProducts)),
                    partsPerThread: Parallel.balancingParts
                  ) { range in
                    var scratch = [Float](
                      repeating: 0, count: attnc_attention_scratch_floats(geometry.queryBlock, geometry.keyBlock, depth))
                    scratch.withUnsafeMutableBufferPointer { scratch in
                      for item in range {
                        let block = item % blocksPerHead, head = (item / blocksPerHead) % heads
                        let b = item / (blocksPerHead * heads)
                        queryBlock(b, head, block * geometry.queryBlock, operands, geometry, term, options, scratch.baseAddress!)
                      }
                    }
                  }
                }
              }
              counter?.add(counts, heads: heads, blocksPerHead: blocksPerHead)
            }
          }
        }
      }
    }
    try output.withUnsafeMutableBufferPointer { y in
      try recomputeFullyMaskedRows(q: q, k: k, v: v, mask: mask, options: options, output: y)
    }
    return .float(output, [batch, heads, queries, valueDepth])
  }

  /// The sizes of `q [B, Hq, S, d]`, `k [B, Hkv, L, d]`, `v [B, Hkv, L, dv]` (Hq a multiple of Hkv).
  /// - Throws: when they are not 4-D floats or do not fit together.
  static func operandShape(q: Tensor, k: Tensor, v: Tensor) throws
    -> (batch: Int, heads: Int, kvHeads: Int, queries: Int, keys: Int, depth: Int, valueDepth: Int)
  {
    guard q.rank == 4, k.rank == 4, v.rank == 4, q.isFloat, k.isFloat, v.isFloat else {
      throw AttncError.invalid("attention takes 4-D float Q, K, V; got \(q.shape), \(k.shape), \(v.shape)")
    }
    let (batch, heads, queries, depth) = (q.shape[0], q.shape[1], q.shape[2], q.shape[3])
    let (kvHeads, keys, valueDepth) = (k.shape[1], k.shape[2], v.shape[3])
    guard k.shape[0] == batch, v.shape[0] == batch, k.shape[3] == depth, v.shape[1] == kvHeads, v.shape[2] == keys,
      kvHeads > 0, heads % kvHeads == 0
    else {
      throw AttncError.invalid("attention operands do not fit: Q \(q.shape), K \(k.shape), V \(v.shape)")
    }
    return (batch, heads, kvHeads, queries, keys, depth, valueDepth)
  }

  struct Geometry {
    var batch, heads, kvHeads, queries, keys, depth, valueDepth, queryBlock, keyBlock: Int
  }

  /// Where one call keeps its packed operands, in one buffer: the keys packed for float32 heads,
  /// then (when a head runs bfloat16) the keys packed for bfloat16, (when a head runs int8 or
  /// int8pv) the keys packed in int8, (bfloat16 or int8) the values packed for bfloat16 and
  /// (int8pv) the values packed in int8, each (batch, key/value head) `keyHead`, `int8KeyHead`,
  /// `valueHead` or `int8ValueHead` floats apart.
  struct PackedLayout {
    var keyHead, int8KeyHead, valueHead, int8ValueHead: Int
    var float32Keys: Int?, bfloat16Keys: Int?, int8Keys: Int?, bfloat16Values: Int?, int8Values: Int?
    var count: Int
    var keys, depth, valueDepth: Int
    /// Whether int8 keys are smoothed by their mean (not under a softcap, where a shift of the
    /// scores changes the result).
    var smooth: Bool

    init(_ options: Options, batch: Int, heads: Int, kvHeads: Int, keys: Int, depth: Int, valueDepth: Int) {
      (self.keys, self.depth, self.valueDepth) = (keys, depth, valueDepth)
      keyHead = attnc_attention_packed_floats(keys, depth)
      int8KeyHead = attnc_attention_int8_packed_floats(keys, depth)
      valueHead = attnc_attention_packed_value_floats(keys, valueDepth)
      int8ValueHead = attnc_attention_int8_packed_value_floats(keys, valueDepth)
      smooth = options.softcap <= 0
      let used = Set((0..<heads).map(options.precision(ofHead:)))
      count = 0
      func take(_ floats: Int) -> Int {
        defer { count += batch * kvHeads * floats }
        return count
      }
      if used.contains(.float32) { float32Keys = take(keyHead) }
      if used.contains(.bfloat16) { bfloat16Keys = take(keyHead) }
      if used.contains(.int8) || used.contains(.int8pv) { int8Keys = take(int8KeyHead) }
      if used.contains(.bfloat16) || used.contains(.int8) { bfloat16Values = take(valueHead) }
      if used.contains(.int8pv) { int8Values = take(int8ValueHead) }
    }

    /// Where the keys query heads of `precision` read, for key/value head `kv` (of all batches').
    func keyOffset(_ precision: Precision, _ kv: Int) -> Int {
      switch precision {
      case .float32: (float32Keys ?? 0) + kv * keyHead
      case .bfloat16: (bfloat16Keys ?? 0) + kv * keyHead
      case .int8, .int8pv: (int8Keys ?? 0) + kv * int8KeyHead
      }
    }

    /// Where heads of `precision` read the packed values of key/value head `kv` (nil: float32
    /// heads read V itself).
    func valueOffset(_ precision: Precision, _ kv: Int) -> Int? {
      switch precision {
      case .float32: nil
      case .bfloat16, .int8: (bfloat16Values ?? 0) + kv * valueHead
      case .int8pv: (int8Values ?? 0) + kv * int8ValueHead
      }
    }

    /// Packs key/value head `head` (of all batches' heads) from `k` and `v` for every precision used.
    func pack(_ head: Int, k: UnsafePointer<Float>, v: UnsafePointer<Float>, into base: UnsafeMutablePointer<Float>, kernels: Int32) {
      let (key, value) = (k + head * keys * depth, v + head * keys * valueDepth)
      if let float32Keys {
        attnc_attention_pack_keys(key, keys, depth, kernels, Precision.float32.rawValue, base + float32Keys + head * keyHead)
      }
      if let bfloat16Keys {
        attnc_attention_pack_keys(key, keys, depth, kernels, Precision.bfloat16.rawValue, base + bfloat16Keys + head * keyHead)
      }
      if let int8Keys {
        let widest: Int32 = kernels == TiledAttention.Kernels.widest.rawValue ? 1 : 0
        attnc_attention_int8_pack_keys(key, keys, depth, smooth ? 1 : 0, widest, base + int8Keys + head * int8KeyHead)
      }
      if let bfloat16Values {
        attnc_attention_pack_values(value, keys, valueDepth, kernels, base + bfloat16Values + head * valueHead)
      }
      if let int8Values { attnc_attention_int8_pack_values(value, keys, valueDepth, base + int8Values + head * int8ValueHead) }
    }
  }

  struct Operands {
    var q: UnsafePointer<Float>
    /// The packed keys (and values) as `layout` places them.
    var packed: UnsafePointer<Float>
    var layout: PackedLayout
    var v: UnsafePointer<Float>
    var y: UnsafeMutablePointer<Float>
    /// `AdditiveTerm.values`, when there is a term.
    var term: UnsafePointer<Float>?
    /// Block-sparse: per (batch, query head, query block), one byte per key block (1 = visit).
    var kept: UnsafePointer<UInt8>? = nil
    /// Counting tiles: three counters per (batch, query head, query block).
    var counts: UnsafeMutablePointer<Int>? = nil
  }

  static func additiveTerm(_ mask: Mask, batch: Int, heads: Int, queries: Int, keys: Int) throws -> AdditiveTerm? {
    switch mask {
    case .none:
      return nil
    case .keyPadding(let padding, let fill):
      guard padding.shape == [batch, keys] else {
        throw AttncError.invalid("key-padding mask has shape \(padding.shape), expected [\(batch), \(keys)]")
      }
      let values = padding.isFloat ? padding.floats.map { $0 == 0 ? fill : 0 } : padding.ints.map { $0 == 0 ? fill : 0 }
      return AdditiveTerm(values: FloatBuffer(values), strides: (keys, 0, 0, 1))
    case .keyWeights(let weights):
      return AdditiveTerm(values: FloatBuffer(try logKeyWeights(weights, batch: batch, keys: keys)), strides: (keys, 0, 0, 1))
    case .bias(let bias):
      guard bias.isFloat, bias.rank <= 4 else { throw AttncError.invalid("attention bias must be float of rank ≤ 4, got \(bias.shape)") }
      let shape = [Int](repeating: 1, count: 4 - bias.rank) + bias.shape
      let full = [batch, heads, queries, keys]
      var strides = [Int](repeating: 0, count: 4)
      var stride = 1
      for axis in (0..<4).reversed() {
        guard shape[axis] == full[axis] || shape[axis] == 1 else {
          throw AttncError.invalid("attention bias \(bias.shape) does not broadcast to \(full)")
        }
        strides[axis] = shape[axis] == 1 ? 0 : stride
        stride *= shape[axis]
      }
      return AdditiveTerm(values: bias.floats, strides: (strides[0], strides[1], strides[2], strides[3]))
    }
  }

  /// `log w` of `[B, L]` key weights, −inf where `w = 0` (NaN stays NaN and reaches the output).
  /// - Throws: when `weights` is not a float `[batch, keys]` tensor or holds a negative weight.
  static func logKeyWeights(_ weights: Tensor, batch: Int, keys: Int) throws -> [Float] {
    try checkKeyWeights(weights, batch: batch, keys: keys)
    return weights.floats.map { $0 == 0 ? -.infinity : Foundation.log($0) }
  }

  /// - Throws: "key weights must be float [2, 7], got [2, 5]", "key weight -1.0 (batch 0, key 3)
  ///   is negative".
  static func checkKeyWeights(_ weights: Tensor, batch: Int, keys: Int) throws {
    guard weights.isFloat, weights.shape == [batch, keys] else {
      throw AttncError.invalid("key weights must be float [\(batch), \(keys)], got \(weights.shape)")
    }
    if let index = weights.floats.firstIndex(where: { $0 < 0 }) {
      throw AttncError.invalid("key weight \(weights.floats[index]) (batch \(index / keys), key \(index % keys)) is negative")
    }
  }

  /// Computes output rows `start..<start + queryBlock` of one (batch, head) in C
  /// (`attnc_attention_run`, `attnc_attention_tile.h`).
  static func queryBlock(
    _ b: Int, _ head: Int, _ start: Int, _ x: Operands, _ g: Geometry, _ term: AdditiveTerm?, _ options: Options,
    _ scratch: UnsafeMutablePointer<Float>
  ) {
    let rows = min(g.queryBlock, g.queries - start)
    let kvHead = head / (g.heads / g.kvHeads)
    let diagonal = g.keys - g.queries
    // Keys past the last row's diagonal are never seen by this block.
    let keyEnd = options.causal ? max(0, min(g.keys, start + rows + diagonal)) : g.keys
    let precision = options.precision(ofHead: head), kv = b * g.kvHeads + kvHead
    var block = attnc_attention_block(
      q: x.q + ((b * g.heads + head) * g.queries + start) * g.depth,
      packed_keys: x.packed + x.layout.keyOffset(precision, kv),
      v: x.layout.valueOffset(precision, kv).map { x.packed + $0 } ?? x.v + kv * g.keys * g.valueDepth,
      y: x.y + ((b * g.heads + head) * g.queries + start) * g.valueDepth,
      term: nil, term_query_stride: 0, term_key_stride: 0,
      rows: rows, depth: g.depth, value_depth: g.valueDepth, key_end: keyEnd, key_block: g.keyBlock,
      causal: options.causal ? 1 : 0, diagonal: start + diagonal, scale: options.scale, softcap: options.softcap,
      kernels: options.kernels.rawValue, precision: precision.rawValue, scratch: scratch, zero_nan_rows: options.zeroNaNRows ? 1 : 0,
      skip_below: options.skipBelow(ofHead: head), keep_blocks: nil, tile_counts: nil)
    let item = (b * g.heads + head) * ((g.queries + g.queryBlock - 1) / g.queryBlock) + start / g.queryBlock
    if let kept = x.kept { block.keep_blocks = kept + item * ((g.keys + g.keyBlock - 1) / g.keyBlock) }
    if let counts = x.counts { block.tile_counts = counts + 3 * item }
    if let term, let values = x.term {
      block.term = values + term.offset(batch: b, head: head, query: start)
      block.term_query_stride = term.strides.query
      block.term_key_stride = term.strides.key
    }
    attnc_attention_run(&block)
  }
}

extension TiledAttention.Options {
  /// Exact attention at `scale`, no causal cut or softcap, default tiling.
  public init(scale: Float) { self.scale = scale }
}
