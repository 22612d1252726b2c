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

  /// `ConvTranspose` of `x [N, C, D…]` with the filter `W [C, M, K…]` stored as `rows`
  /// (`ConvolutionGemm.weightRows`, transposed: `[M·K, C]` floats or `[M·K, C/2]` bfloat16 pairs).
  static func run(
    _ x: Tensor, rows: UnsafePointer<Float>, weightShape: [Int], bias: Tensor?, window: ConvolutionWindow,
    precision: LinearPrecision
  ) -> Tensor {
    let (strides, outputSpatial) = (window.strides, window.outputSpatial)
    let spatial = x.rank - 2, batch = x.shape[0], channels = x.shape[1], filters = weightShape[1]
    let kernel = Array(weightShape[2...]), inSpatial = Array(x.shape[2...])
    let kernelSize = kernel.reduce(1, *), inSize = inSpatial.reduce(1, *), outSize = outputSpatial.reduce(1, *)
    let units = precision == .bfloat16 ? channels / 2 : channels
    let axes = (0..<spatial).map { a in
      axisPhases(
        kernel: kernel[a], stride: strides[a], dilation: window.dilations[a], padBegin: window.padsBegin[a], output: outputSpatial[a])
    }
    let inStrides = rowMajorStrides(inSpatial), outStrides = rowMajorStrides(outputSpatial)
    let kernelStrides = rowMajorStrides(kernel)
    var out = [Float](unsafeUninitializedCapacity: batch * filters * outSize) { _, count in count = batch * filters * outSize }
    let biasValues = bias?.floats ?? FloatBuffer([Float](repeating: 0, count: filters))
    // Every phase: one residue per axis, the last axis fastest.
    let phaseCount = strides.reduce(1, *)
    x.floats.withUnsafeBufferPointer { xp in
      out.withUnsafeMutableBufferPointer { op in
        biasValues.withUnsafeBufferPointer { bp in
          let (xb, ob, bb) = (xp.baseAddress!, op.baseAddress!, bp.baseAddress!)
          for phaseIndex in 0..<phaseCount {
            var rest = phaseIndex
            var phase = [AxisPhase](repeating: axes[0][0], count: spatial)
            for a in stride(from: spatial - 1, through: 0, by: -1) {
              phase[a] = axes[a][rest % strides[a]]
              rest /= strides[a]
            }
            let outputs = phase.map(\.count), positions = outputs.reduce(1, *)
            guard positions > 0 else { continue }
            let tapCounts = phase.map(\.taps.count), taps = tapCounts.reduce(1, *)
            // Each tap of the phase: its flat kernel index and its flat input shift per axis.
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
            let depth = taps * channels, phaseStrides = rowMajorStrides(outputs)
            // A_r [M, taps·units]: row m gathers the stored rows (m·K + k_j) of its taps.
            let a = [Float](unsafeUninitializedCapacity: filters * taps * units) { buffer, count in
              for m in 0..<filters {
                for j in 0..<taps {
                  (buffer.baseAddress! + (m * taps + j) * units).update(from: rows + (m * kernelSize + tapKernel[j]) * units, count: units)
                }
              }
              count = filters * taps * units
            }
            var y = [Float](unsafeUninitializedCapacity: filters * positions) { _, count in count = filters * positions }
            for n in 0..<batch {
              let image = xb + n * channels * inSize
              y.withUnsafeMutableBufferPointer { yp in
                // A phase no tap reaches holds only the bias.
                guard depth > 0 else { yp.update(repeating: 0); return }
                let b = ConvolutionGemm.pack(k: depth, n: positions, precision: precision) { first, count, target in
                  for row in first..<(first + count) {
                    gatherRow(
                      image + (row % channels) * inSize, shift: tapShift[row / channels], outputs: outputs, phaseStrides: phaseStrides,
                      inSpatial: inSpatial, inStrides: inStrides, into: target + (row - first) * positions)
                  }
                }
                a.withUnsafeBufferPointer { ap in
                  b.withUnsafeBufferPointer { bp in
                    ConvolutionGemm.multiply(
                      rows: ap.baseAddress!, packed: bp.baseAddress!, m: filters, n: positions, k: depth, precision: precision,
                      into: yp.baseAddress!)
                  }
                }
              }
              y.withUnsafeBufferPointer { yp in
                let source = yp.baseAddress!, planes = ob + n * filters * outSize
                Parallel.chunks(filters, minimumPerChunk: max(1, Parallel.elementsPerChunk / positions)) { range in
                  for m in range {
                    scatterPlane(
                      source + m * positions, adding: bb[m], phase: phase, outputs: outputs, phaseStrides: phaseStrides,
                      strides: strides, outStrides: outStrides, into: planes + m * outSize)
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

  /// `target[t] = channel[t + shift]` over the phase's output grid (`outputs`), 0 outside the input.
  static func gatherRow(
    _ channel: UnsafePointer<Float>, shift: [Int], outputs: [Int], phaseStrides: [Int], inSpatial: [Int], inStrides: [Int],
    into target: UnsafeMutablePointer<Float>
  ) {
    let last = outputs.count - 1, width = outputs[last]
    // The run of t along the last axis whose input lies inside: [low, high).
    let low = min(width, max(0, -shift[last])), high = max(low, min(width, inSpatial[last] - shift[last]))
    let lines = outputs.count == 1 ? 1 : outputs[..<last].reduce(1, *)
    for line in 0..<lines {
      var rest = line, source = shift[last], inside = true
      for a in stride(from: last - 1, through: 0, by: -1) {
        let t = rest % outputs[a]
        rest /= outputs[a]
        let i = t + shift[a]
        if i < 0 || i >= inSpatial[a] { inside = false; break }
        source += i * inStrides[a]
      }
      let row = target + line * width
      guard inside else { row.update(repeating: 0, count: width); continue }
      if low > 0 { row.update(repeating: 0, count: low) }
      if high > low { (row + low).update(from: channel + source + low, count: high - low) }
      if width > high { (row + high).update(repeating: 0, count: width - high) }
    }
  }

  /// Writes one filter's phase outputs (`source`, the phase grid) plus `bias` into every output
  /// of the phase: output `first + s·t` per axis.
  static func scatterPlane(
    _ source: UnsafePointer<Float>, adding bias: Float, phase: [AxisPhase], outputs: [Int], phaseStrides: [Int], strides: [Int],
    outStrides: [Int], into plane: UnsafeMutablePointer<Float>
  ) {
    let last = outputs.count - 1, width = outputs[last], step = strides[last]
    let lines = outputs.count == 1 ? 1 : outputs[..<last].reduce(1, *)
    for line in 0..<lines {
      var rest = line, offset = phase[last].first
      for a in stride(from: last - 1, through: 0, by: -1) {
        let t = rest % outputs[a]
        rest /= outputs[a]
        offset += (phase[a].first + strides[a] * t) * outStrides[a]
      }
      let from = source + line * width, to = plane + offset
      for t in 0..<width { to[t * step] = from[t] + bias }
    }
  }
}
