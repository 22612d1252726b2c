import AttncKernels
import AttncTensor
import CAttnc
import Foundation

/// Measures a `MachineProfile`: the machine's rates, then every attention kernel on a small grid
/// of shapes, and fits each kernel's weights by non-negative least squares on relative error.
public enum MachineCalibration {
  /// The GEMM shapes transformers produce: projections and MLPs (large m, k), QKᵀ and P·V
  /// (small k or n), random-feature maps (small n).
  static let gemmShapes: [(m: Int, n: Int, k: Int)] = [
    (512, 768, 768), (512, 3072, 768), (1024, 1024, 64), (1024, 64, 1024), (4096, 256, 64), (4096, 64, 256),
  ]
  /// The timing grid each attention setting is fitted on: every (N, d, heads) of N = 128, 256,
  /// 1024, 4096, d = 32, 64 and 2 or 8 heads (1 or 4 heads per thread on 2 cores). N = 128 puts
  /// the per-call overheads in the fit: without it, at 128 tokens `flurka-elu` was predicted 11%
  /// faster than exact attention on bert_mini and ran 37% slower, and `balanced` chose it.
  public static let fitPoints: [(n: Int, d: Int, heads: Int)] = [128, 256, 1024, 4096].flatMap { n in
    [32, 64].flatMap { d in [2, 8].map { heads in (n, d, heads) } }
  }

  /// Sweeps over the attention timing grid; each timing keeps its least.
  static let calibrationSweeps = 2

  /// Measures everything with `threads` threads (restored afterwards).
  public static func measure(threads: Int, progress: (String) -> Void = { _ in }) -> MachineProfile {
    let previous = Parallel.threads
    Parallel.configure(threads: threads)
    defer { Parallel.configure(threads: previous) }
    progress("  sgemm and bfloat16 GEMM over \(gemmShapes.count) shapes, bandwidth, exp throughput, call overhead")
    let gemm = gemmShapes.map { shape in
      MachineProfile.GemmRate(m: shape.m, n: shape.n, k: shape.k, flopsPerSecond: gemmRate(m: shape.m, n: shape.n, k: shape.k))
    }
    var profile = MachineProfile(
      threads: threads, measuredAt: ISO8601DateFormatter().string(from: Date()), gemm: gemm,
      bandwidthBytesPerSecond: bandwidth(), exponentialsPerSecond: exponentialRate(), callOverheadSeconds: callOverhead())
    profile.bfloat16Gemm = gemmShapes.map { shape in
      MachineProfile.GemmRate(
        m: shape.m, n: shape.n, k: shape.k, flopsPerSecond: bfloat16GemmRate(m: shape.m, n: shape.n, k: shape.k))
    }
    // Every setting is timed at one grid point before the next point, and the whole grid twice,
    // keeping each timing's least: a burst of other work on a shared machine then slows every
    // setting alike instead of inflating one setting's whole fit (which flips near-ties).
    var kernels: [(key: String, definition: AttentionVariantDefinition, parameters: VariantParameters, causal: Bool)] = []
    for setting in AttentionCandidate.settings + AttentionCandidate.sparseKernels {
      guard let (definition, parameters) = try? AttentionVariants.parse(setting) else { continue }
      for causal in definition.supportsCausal ? [false, true] : [false] {
        kernels.append((MachineProfile.fitKey(setting, causal: causal), definition, parameters, causal))
      }
    }
    var least = [[Double?]](repeating: [Double?](repeating: nil, count: fitPoints.count), count: kernels.count)
    for sweep in 1...calibrationSweeps {
      for (index, point) in fitPoints.enumerated() {
        progress("  sweep \(sweep) of \(calibrationSweeps): \(kernels.count) attention kernels at N = \(point.n), d = \(point.d), \(point.heads) heads")
        for (k, kernel) in kernels.enumerated() {
          let shape = AttentionShape(queries: point.n, keys: point.n, depth: point.d, valueDepth: point.d, causal: kernel.causal)
          guard let seconds = try? timeAttention(kernel.definition, kernel.parameters, shape: shape, heads: point.heads) else { continue }
          least[k][index] = min(least[k][index] ?? seconds, seconds)
        }
      }
    }
    for (k, kernel) in kernels.enumerated() {
      let samples: [(features: [Double], seconds: Double)] = fitPoints.indices.compactMap { index in
        guard let seconds = least[k][index] else { return nil }
        let point = fitPoints[index]
        let shape = AttentionShape(queries: point.n, keys: point.n, depth: point.d, valueDepth: point.d, causal: kernel.causal)
        return (profile.features(kernel.definition.cost(shape, kernel.parameters), heads: point.heads), seconds)
      }
      profile.fits[kernel.key] = fit(samples)
    }
    return profile
  }

  /// Fits non-negative weights minimising the relative error `Σ (pred/measured − 1)²`.
  static func fit(_ samples: [(features: [Double], seconds: Double)]) -> MachineProfile.KernelFit {
    let rows = samples.map { sample in sample.features.map { $0 / sample.seconds } }
    let weights = NonNegativeLeastSquares.solve(rows: rows, targets: [Double](repeating: 1, count: samples.count))
    let ratios = samples.map { sample in zip(weights, sample.features).reduce(0) { $0 + $1.0 * $1.1 } / sample.seconds }
    let worst = ratios.map { $0 > 0 ? max($0, 1 / $0) : .infinity }.max() ?? 1
    return MachineProfile.KernelFit(coefficients: weights, points: samples.count, medianRatio: ratios.median, worstRatio: worst)
  }

  /// Wall time (seconds) of the plan's own `FusedAttention` kernel on random q, k, v of `heads`
  /// heads: the least of 7 runs after a warm-up (3 over 20 ms, 2 over a quarter second, the
  /// warm-up alone over 2 s). The least, not the median: on a shared machine other work only ever adds
  /// time, and the cost model predicts the kernel's own.
  public static func timeAttention(
    _ definition: AttentionVariantDefinition, _ parameters: VariantParameters, shape: AttentionShape, heads: Int
  ) throws -> Double {
    // The heap as the interpreter sets it up: freed blocks stay for reuse instead of returning
    // to the kernel (else every large output is page-faulted again, which plans do not pay).
    attnc_keep_freed_memory()
    var generator = SplitMix(seed: 0xC0FFEE)
    func random(_ rows: Int, _ depth: Int) -> Tensor {
      Tensor.float((0..<(heads * rows * depth)).map { _ in generator.normal() }, [1, heads, rows, depth])
    }
    let q = random(shape.queries, shape.depth), k = random(shape.keys, shape.depth), v = random(shape.keys, shape.valueDepth)
    let call = FusedAttentionCall(
      scale: 1 / Float(shape.depth).squareRoot(), causal: shape.causal, softcap: 0, mask: .none, maskFill: 0,
      variant: definition.name, variantValues: parameters.values)
    let context = KernelContext()
    let first = try seconds { _ = try call.evaluate(context, [q, k, v]) }
    if first > 2 { return first }
    var times: [Double] = []
    let runs = first > 0.25 ? 2 : first > 0.02 ? 3 : 7
    for _ in 0..<runs { times.append(try seconds { _ = try call.evaluate(context, [q, k, v]) }) }
    return times.min() ?? first
  }

  static func seconds(_ body: () throws -> Void) rethrows -> Double {
    let start = DispatchTime.now().uptimeNanoseconds
    try body()
    return Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
  }


  /// sgemm FLOP/s of one `[m, k] × [k, n]` product on the current thread budget (the least of 5
  /// after a warm-up, as the attention timings: a burst of other work only adds time, and a median
  /// of 5 short runs once measured 512 × 768 × 768 at 117 GFLOP/s instead of 183, making every
  /// linear layer near that shape predicted 1.5× too slow).
  public static func gemmRate(m: Int, n: Int, k: Int) -> Double {
    let a = [Float](repeating: 0.5, count: m * k), b = [Float](repeating: 0.25, count: k * n)
    var c = [Float](repeating: 0, count: m * n)
    var times: [Double] = []
    for run in 0..<6 {
      let time = seconds {
        a.withUnsafeBufferPointer { x in
          b.withUnsafeBufferPointer { y in
            c.withUnsafeMutableBufferPointer { z in gemm(m: m, n: n, k: k, x.baseAddress!, y.baseAddress!, into: z.baseAddress!) }
          }
        }
      }
      if run > 0 { times.append(time) }
    }
    return 2 * Double(m * n * k) / (times.min() ?? .infinity)
  }

  /// FLOP/s of attnc's packed GEMM on bfloat16 operands (`PackedMatMul` at `bf16`: A rounded per
  /// call, the weight packed beforehand) for one `[m, k] × [k, n]` product on the current thread
  /// budget (the least of 5 after a warm-up).
  public static func bfloat16GemmRate(m: Int, n: Int, k: Int) -> Double {
    let a = Tensor.float([Float](repeating: 0.5, count: m * k), [m, k])
    let b = [Float](repeating: 0.25, count: k * n)
    let shape = PackedGemm.packedShape(k: k, n: n, precision: .bfloat16)
    var words = [UInt32](repeating: 0, count: shape.reduce(1, *))
    b.withUnsafeBufferPointer { b in
      words.withUnsafeMutableBufferPointer { PackedGemm.packBFloat16(b.baseAddress!, k: k, n: n, into: $0.baseAddress!) }
    }
    let packed = Tensor.float(words.map { Float(bitPattern: $0) }, shape)
    var times: [Double] = []
    for run in 0..<6 {
      let time = seconds {
        _ = try? PackedGemm.multiply(
          a, packed: packed, columns: n, addends: [], alpha: 1, activation: "none", precision: .bfloat16)
      }
      if run > 0 { times.append(time) }
    }
    return 2 * Double(m * n * k) / (times.min() ?? .infinity)
  }

  /// Bytes read plus written per second copying 64 MiB (median of 5).
  static func bandwidth() -> Double {
    let count = 16 << 20
    let source = [Float](repeating: 1, count: count)
    var destination = [Float](repeating: 0, count: count)
    var times: [Double] = []
    for run in 0..<6 {
      let time = seconds {
        source.withUnsafeBufferPointer { from in
          destination.withUnsafeMutableBufferPointer { to in to.baseAddress!.update(from: from.baseAddress!, count: count) }
        }
      }
      if run > 0 { times.append(time) }
    }
    return 2 * Double(count * 4) / times.median
  }

  /// Exponentials per second of the kernels' exp-and-sum loop over 1 Mi floats (median of 5);
  /// the values stay in [e⁻¹, 1] from one pass to the next.
  static func exponentialRate() -> Double {
    let count = 1 << 20
    var values = (0..<count).map { Float($0 % 1000) / 1000 }
    var times: [Double] = []
    for run in 0..<6 {
      let time = seconds { values.withUnsafeMutableBufferPointer { _ = attnc_exp_shift_sum($0.baseAddress!, count, 1) } }
      if run > 0 { times.append(time) }
    }
    return Double(count) / times.median
  }

  /// Seconds per call of a kernel on one-element tensors, as the interpreter calls it.
  static func callOverhead() -> Double {
    let call = BinaryCall("Add")
    let context = KernelContext()
    let x = Tensor.float([1], [1])
    let calls = 2000
    var times: [Double] = []
    for _ in 0..<5 { times.append(seconds { for _ in 0..<calls { _ = try? call.evaluate(context, [x, x]) } } / Double(calls)) }
    return times.median
  }
}
