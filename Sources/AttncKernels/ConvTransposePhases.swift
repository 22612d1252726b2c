import AttncTensor
import CAttnc

/// `ConvTranspose` (one group) as one convolution per output phase, on the packed GEMM.
///
/// Output position `o = i·s − p + k·d` along an axis receives input `i` through tap `k`. The
/// outputs of one residue `r = o mod s` (a phase) see a fixed set of taps, those with
/// `(r + p − k·d) mod s = 0`, each reading input `t + δ_k` for the phase's `t`-th output, with
/// `δ_k = (r + p − k·d) / s`. So each phase is an ordinary convolution with those taps:
/// `Y_r [M, T_r] = A_r [M, taps·C] · B_r [taps·C, T_r]` with `A_r[m, (j, c)] = W[c, m, k_j]` (rows
/// gathered from the stored filter) and `B_r[(j, c), t] = X[c, t + δ_j]` (zero outside X),
/// written into every `s`-th output. The products are the same as col2im's, but nothing of size
/// `M·K × |X|` is written and read back: with stride 2 and a 4×4 filter the col2im columns are
/// 16 times the input and 4 times the output; here the largest buffer is a phase's `B_r`.
enum ConvTransposePhases {
  /// One axis of one phase: its taps (`kernel indices`), their input shifts, the phase's first
  /// output and output count.
  struct AxisPhase {
    var taps: [Int], shifts: [Int]
    var first: Int, count: Int
  }

  /// Every phase of one axis (`s` of them).
  static func axisPhases(kernel: Int, stride s: Int, dilation d: Int, padBegin p: Int, output: Int) -> [AxisPhase] {
    (0..<s).map { r in
      var taps: [Int] = [], shifts: [Int] = []
      for k in 0..<kernel {
        let reach = r + p - k * d
        // (reach mod s) == 0 with a non-negative remainder for negative reach
        if ((reach % s) + s) % s == 0 {
          taps.append(k)
          shifts.append(reach >= 0 ? reach / s : -((-reach) / s))
        }
      }
      let count = output > r ? (output - r + s - 1) / s : 0
      return AxisPhase(taps: taps, shifts: shifts, first: r, count: count)
    }
  }

  /// Whether `run` can take this call: bfloat16 rows hold pairs of channels, so a tap's channels
  /// must fill whole pairs (an even C).
  static func applies(channels: Int, precision: LinearPrecision) -> Bool {
    precision == .float32 || channels % 2 == 0
  }

  /// One phase of the whole call: its residue per axis, its output grid, each tap's input shift
  /// and its `A_r` rows.
  struct Phase {
    var axes: [AxisPhase]
    var outputs: [Int], positions: Int
    var tapShift: [[Int]]
    /// `A_r [M, taps·units]`: row m gathers the stored rows `(m·K + k_j)` of its taps.
    var a: [Float]
    /// `taps·C`: the product's depth in floats (0 for a phase no tap reaches: bias only).
    var depth: Int
  }

  /// The phases of a call with a non-empty output grid.
  static func phases(
    rows: UnsafePointer<Float>, kernel: [Int], filters: Int, channels: Int, units: Int, window: ConvolutionWindow
  ) -> [Phase] {
    let strides = window.strides, spatial = kernel.count
    let kernelSize = kernel.reduce(1, *), kernelStrides = rowMajorStrides(kernel)
    let axes = (0..<spatial).map { a in
      axisPhases(
        kernel: kernel[a], stride: strides[a], dilation: window.dilations[a], padBegin: window.padsBegin[a],
        output: window.outputSpatial[a])
    }
    // Every phase: one residue per axis, the last axis fastest.
    return (0..<strides.reduce(1, *)).compactMap { phaseIndex in
      var rest = phaseIndex
      var phase = [AxisPhase](repeating: axes[0][0], count: spatial)
      for a in stride(from: spatial - 1, through: 0, by: -1) {
        phase[a] = axes[a][rest % strides[a]]
        rest /= strides[a]
      }
      let outputs = phase.map(\.count), positions = outputs.reduce(1, *)
      guard positions > 0 else { return nil }
      let tapCounts = phase.map(\.taps.count), taps = tapCounts.reduce(1, *)
      // Each tap of the phase: its flat kernel index and its input shift per axis.
      var tapKernel = [Int](repeating: 0, count: taps), tapShift = [[Int]](repeating: [], count: taps)
      for j in 0..<taps {
        var r = j, k = 0, shift = [Int](repeating: 0, count: spatial)
        for a in stride(from: spatial - 1, through: 0, by: -1) {
          let e = r % tapCounts[a]
          r /= tapCounts[a]
          k += phase[a].taps[e] * kernelStrides[a]
          shift[a] = phase[a].shifts[e]
        }
        tapKernel[j] = k
        tapShift[j] = shift
      }
      let a = [Float](unsafeUninitializedCapacity: filters * taps * units) { buffer, count in
        for m in 0..<filters {
          for j in 0..<taps {
            (buffer.baseAddress! + (m * taps + j) * units).update(from: rows + (m * kernelSize + tapKernel[j]) * units, count: units)
          }
        }
        count = filters * taps * units
      }
      return Phase(axes: phase, outputs: outputs, positions: positions, tapShift: tapShift, a: a, depth: taps * channels)
    }
  }

  /// Output positions per block of a phase's product: B's block (`depth × block` floats) stays
  /// near 1 MiB, in the core's cache from its gather to the GEMM's last use of it (measured on
  /// the real ViT-S head at 896: 256 KiB blocks 7% slower, 2 MiB no faster).
  static func blockColumns(depth: Int) -> Int {
    max(32, min(1024, (262_144 / max(1, depth)) / 16 * 16))
  }

  /// `ConvTranspose` of `x [N, C, D…]` with the filter `W [C, M, K…]` stored as `rows`
  /// (`ConvolutionGemm.weightRows`, transposed: `[M·K, C]` floats or `[M·K, C/2]` bfloat16 pairs),
  /// then `activation` on each output.
  ///
  /// The work is (phase, block of the phase's output positions) items over the threads; each
  /// item packs its block of `B_r` in cache, multiplies it on the packed GEMM and writes the
  /// block's outputs (bias added) straight into the output planes: no buffer of a phase's size
  /// exists, and nothing leaves the core's cache between the packing and the store. In float32
  /// an item gathers its block's shifted inputs and packs them; in bfloat16 the image is first
  /// rounded once into `PairPlanes` and an item's panels are copies of their words (the real
  /// ViT-S head at 896, `--linear-precision bf16`: 180 → 144 ms, the gather and the rounding
  /// per tap were a quarter of it).
  static func run(
    _ x: Tensor, rows: UnsafePointer<Float>, weightShape: [Int], bias: Tensor?, window: ConvolutionWindow,
    precision: LinearPrecision, activation: Int32 = Int32(ATTNC_EPILOGUE_NONE)
  ) -> Tensor {
    let (strides, outputSpatial) = (window.strides, window.outputSpatial)
    let batch = x.shape[0], channels = x.shape[1], filters = weightShape[1]
    let kernel = Array(weightShape[2...]), inSpatial = Array(x.shape[2...])
    let inSize = inSpatial.reduce(1, *), outSize = outputSpatial.reduce(1, *)
    let units = precision == .bfloat16 ? channels / 2 : channels
    let phases = phases(rows: rows, kernel: kernel, filters: filters, channels: channels, units: units, window: window)
    let inStrides = rowMajorStrides(inSpatial), outStrides = rowMajorStrides(outputSpatial)
    let maxDepth = phases.map(\.depth).max() ?? 0, block = blockColumns(depth: maxDepth)
    // Block-major: the phases of one block read the same input lines and write interleaved
    // outputs of the same lines, so those stay in cache between them.
    let blockCount = phases.map { ($0.positions + block - 1) / block }
    let items = (0..<(blockCount.max() ?? 0)).flatMap { b in
      phases.indices.filter { b < blockCount[$0] }.map { (phase: $0, block: b) }
    }
    let bfloat16 = precision == .bfloat16
    let packedWords = bfloat16 ? attnc_gemm_bf16_packed_words(maxDepth, block) : attnc_gemm_packed_floats(maxDepth, block)
    let flops = 2 * filters * phases.map { $0.depth * $0.positions }.reduce(0, +)
    var out = [Float](unsafeUninitializedCapacity: batch * filters * outSize) { _, count in count = batch * filters * outSize }
    let biasValues = bias?.floats ?? FloatBuffer([Float](repeating: 0, count: filters))
    x.floats.withUnsafeBufferPointer { xp in
      out.withUnsafeMutableBufferPointer { op in
        biasValues.withUnsafeBufferPointer { bp in
          let (xb, ob, bb) = (xp.baseAddress!, op.baseAddress!, bp.baseAddress!)
          // bfloat16: the image once as padded pair lines, from which each item packs its B
          // panels by copying words (no gathered float copy, no rounding per tap).
          let planes = bfloat16 ? PairPlanes(phases: phases, inSpatial: inSpatial, pairs: units) : nil
          let tapOffsets = planes.map { planes in phases.map(planes.tapOffsets) } ?? []
          var pairWords = [UInt32](repeating: 0, count: planes?.words ?? 0)
          for n in 0..<batch {
            let image = xb + n * channels * inSize, target = ob + n * filters * outSize
            if let planes {
              pairWords.withUnsafeMutableBufferPointer { wp in planes.fill(wp.baseAddress!, from: image, inSpatial: inSpatial) }
            }
            Parallel.chunks(
              items.count, minimumPerChunk: max(1, items.count * Parallel.productsPerChunk / max(1, flops)),
              partsPerThread: Parallel.balancingParts
            ) { range in
              var scratch = [Float](repeating: 0, count: planes == nil ? 16 * block : 0)
              var y = [Float](repeating: 0, count: filters * block), offsets = [Int](repeating: 0, count: block)
              var packed = [UInt32](repeating: 0, count: packedWords)
              for item in items[range] {
                let phase = phases[item.phase], first = item.block * block
                let columns = min(block, phase.positions - first), depth = phase.depth
                let grid = Grid(outputs: phase.outputs, first: first, count: columns)
                y.withUnsafeMutableBufferPointer { yp in
                  guard depth > 0 else { yp.update(repeating: 0); return }
                  packed.withUnsafeMutableBufferPointer { pp in
                    if let planes {
                      planes.columnOffsets(grid, into: &offsets)
                      let taps = tapOffsets[item.phase]
                      pairWords.withUnsafeBufferPointer { wp in
                        offsets.withUnsafeBufferPointer { op in
                          attnc_gemm_bf16_pack_shifted(
                            wp.baseAddress!, planes.unitStride, units, taps.count, taps, op.baseAddress!, columns, pp.baseAddress!,
                            InstructionSets.widest.rawValue)
                        }
                      }
                    } else {
                      scratch.withUnsafeMutableBufferPointer { sp in
                        var group = 0
                        while group < depth {
                          let count = min(16, depth - group)
                          for row in group..<(group + count) {
                            gather(
                              image + (row % channels) * inSize, shift: phase.tapShift[row / channels], grid: grid,
                              inSpatial: inSpatial, inStrides: inStrides, into: sp.baseAddress! + (row - group) * columns)
                          }
                          ConvolutionGemm.packRows(
                            sp.baseAddress!, first: group, count: count, k: depth, n: columns, precision: precision,
                            into: pp.baseAddress!)
                          group += count
                        }
                      }
                    }
                    phase.a.withUnsafeBufferPointer { ap in
                      // On this thread: the items are the parallel parts.
                      var call = ConvolutionGemm.call(
                        rows: ap.baseAddress!, packed: pp.baseAddress!, m: filters, n: columns, k: depth, precision: precision,
                        into: yp.baseAddress!)
                      attnc_gemm_run(&call, 0, filters, 0, columns)
                    }
                  }
                }
                y.withUnsafeBufferPointer { yp in
                  for m in 0..<filters {
                    scatter(
                      yp.baseAddress! + m * columns, adding: bb[m], activation: activation, phase: phase.axes, grid: grid,
                      strides: strides, outStrides: outStrides, into: target + m * outSize)
                  }
                }
              }
            }
          }
        }
      }
    }
    return .float(out, [batch, filters] + outputSpatial, dtype: x.dtype)
  }

  /// A bfloat16 call's input as pair lines: channels `2u` and `2u + 1` interleaved as B's pair
  /// words (`attnc_gemm_bf16_pair_row`), padded with zeros by as much as any tap's shift reaches
  /// outside the input, and laid out line by line (every pair's copy of one input line, then the
  /// next line), so that a phase's B panels are copies of adjacent words
  /// (`attnc_gemm_bf16_pack_shifted`) at a column's offset plus its tap's plus `u · unitStride`,
  /// and the pairs of one panel lie close together.
  struct PairPlanes {
    /// Zeros before the input, per axis (the padding after it only sizes the lines).
    var low: [Int]
    /// Each axis's stride in words (the last 1, the others a padded line of every pair per
    /// step); the words from one pair to the next (a padded line); all words.
    var strides: [Int], unitStride: Int, words: Int
    var pairs: Int

    init(phases: [Phase], inSpatial: [Int], pairs: Int) {
      var low = [Int](repeating: 0, count: inSpatial.count), high = low
      for phase in phases {
        for shift in phase.tapShift {
          for a in inSpatial.indices {
            low[a] = max(low[a], -shift[a])
            high[a] = max(high[a], phase.outputs[a] - 1 + shift[a] - (inSpatial[a] - 1))
          }
        }
      }
      self.low = low
      let dims = inSpatial.indices.map { inSpatial[$0] + low[$0] + high[$0] }
      let last = dims.count - 1
      strides = rowMajorStrides(dims).enumerated().map { a, stride in a == last ? 1 : stride * pairs }
      unitStride = dims[last]
      words = dims.reduce(1, *) * pairs
      self.pairs = pairs
    }

    /// Writes the pair lines of one image `[2·pairs, inSpatial…]` into `planes` (`words` words,
    /// zero where the padding is).
    func fill(_ planes: UnsafeMutablePointer<UInt32>, from image: UnsafePointer<Float>, inSpatial: [Int]) {
      let last = inSpatial.count - 1, width = inSpatial[last], inSize = inSpatial.reduce(1, *)
      let lines = width == 0 ? 0 : inSize / width
      Parallel.chunks(lines, minimumPerChunk: max(1, Parallel.elementsPerChunk / max(1, 2 * pairs * width))) { range in
        for line in range {
          var rest = line, offset = low[last]
          for a in stride(from: last - 1, through: 0, by: -1) {
            offset += (rest % inSpatial[a] + low[a]) * strides[a]
            rest /= inSpatial[a]
          }
          for u in 0..<pairs {
            let source = image + 2 * u * inSize + line * width
            attnc_gemm_bf16_pair_row(source, source + inSize, width, planes + offset + u * unitStride)
          }
        }
      }
    }

    /// Each block column's offset without its tap's shift.
    func columnOffsets(_ grid: Grid, into offsets: inout [Int]) {
      let last = grid.axes
      for r in grid.offset.indices {
        var base = grid.t[r] + low[last]
        for a in 0..<last { base += (grid.line[r * last + a] + low[a]) * strides[a] }
        for i in 0..<grid.length[r] { offsets[grid.offset[r] + i] = base + i }
      }
    }

    /// Each tap's offset: its shift along every axis.
    func tapOffsets(_ phase: Phase) -> [Int] {
      phase.tapShift.map { shift in zip(shift, strides).reduce(0) { $0 + $1.0 * $1.1 } }
    }
  }

  /// A block `[first, first + count)` of a phase's output positions (row-major over `outputs`),
  /// as runs along the last axis: run `r` covers block positions `offset[r] ..< offset[r] +
  /// length[r]`, last-axis indices from `t[r]`, the other axes' indices `line[r·(rank−1) …]`.
  struct Grid {
    var offset: [Int] = [], t: [Int] = [], length: [Int] = [], line: [Int] = []
    var axes: Int

    init(outputs: [Int], first: Int, count: Int) {
      let last = outputs.count - 1, width = outputs[last]
      axes = last
      var p = first
      while p < first + count {
        var rest = p / width
        let start = line.count
        line.append(contentsOf: repeatElement(0, count: last))
        for a in stride(from: last - 1, through: 0, by: -1) {
          line[start + a] = rest % outputs[a]
          rest /= outputs[a]
        }
        let t = p % width, length = min(width - t, first + count - p)
        self.offset.append(p - first)
        self.t.append(t)
        self.length.append(length)
        p += length
      }
    }
  }

  /// `target[j] = channel[position j of the grid + shift]`, 0 outside the input.
  static func gather(
    _ channel: UnsafePointer<Float>, shift: [Int], grid: Grid, inSpatial: [Int], inStrides: [Int],
    into target: UnsafeMutablePointer<Float>
  ) {
    let last = grid.axes
    for r in grid.offset.indices {
      let (t, length) = (grid.t[r], grid.length[r])
      var source = shift[last], inside = true
      for a in 0..<last {
        let i = grid.line[r * last + a] + shift[a]
        if i < 0 || i >= inSpatial[a] { inside = false; break }
        source += i * inStrides[a]
      }
      let row = target + grid.offset[r]
      // The part of [t, t + length) whose input lies inside: [low, high).
      let low = inside ? min(t + length, max(t, -shift[last])) : t + length
      let high = inside ? max(low, min(t + length, inSpatial[last] - shift[last])) : t + length
      if low > t { row.update(repeating: 0, count: low - t) }
      if high > low { (row + (low - t)).update(from: channel + source + low, count: high - low) }
      if t + length > high { (row + (high - t)).update(repeating: 0, count: t + length - high) }
    }
  }

  /// Writes one filter's block of phase outputs (`source`) plus `bias`, through `activation`,
  /// into their outputs of the plane: output `first + s·t` per axis.
  static func scatter(
    _ source: UnsafePointer<Float>, adding bias: Float, activation: Int32, phase: [AxisPhase], grid: Grid, strides: [Int],
    outStrides: [Int], into plane: UnsafeMutablePointer<Float>
  ) {
    let last = grid.axes, step = strides[last], relu = activation == Int32(ATTNC_EPILOGUE_RELU)
    for r in grid.offset.indices {
      var target = phase[last].first + step * grid.t[r]
      for a in 0..<last { target += (phase[a].first + strides[a] * grid.line[r * last + a]) * outStrides[a] }
      attnc_store_strided(source + grid.offset[r], grid.length[r], bias, relu ? 1 : 0, plane + target, step)
    }
  }
}
