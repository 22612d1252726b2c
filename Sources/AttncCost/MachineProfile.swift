import AttncKernels
import AttncTensor
import Foundation

/// What this machine does per second, measured once and cached: sgemm rates over transformer
/// GEMM shapes, memory bandwidth, exponential throughput, per-call overhead, and for every
/// attention kernel the non-negative weights that turn those rates into predicted time.
///
/// Predicted time of a kernel = `c₁·flops/gemm + c₂·exps/exp + c₃·bytes/bandwidth + c₄·overhead
/// + c₅·overhead per head`, the first three and the last scaled by the heads one thread runs; `c ≥ 0` is fitted per kernel (and per causal
/// form) by non-negative least squares over measured timings of that kernel (`MachineCalibration`),
/// the way tract fits its matmul cost model. FLOPs alone would rank a GEMM-bound and an
/// exp-bound kernel wrongly.
public struct MachineProfile: Codable, Sendable, Equatable {
  /// Bumped when what is measured or how it is fitted changes, or when a kernel's speed does
  /// (10: the fused attention's P·V at full speed; 11: the int8 attention kernel, softmax:prec=int8;
  /// 12: the sparse settings' kernels timed; 13: softmax:prec=int8pv timed; 14: N = 128 in the
  /// grid); older files are re-measured.
  public static let formatVersion = 14

  /// One measured sgemm shape.
  public struct GemmRate: Codable, Sendable, Equatable {
    public var m: Int
    public var n: Int
    public var k: Int
    public var flopsPerSecond: Double
    public init(m: Int, n: Int, k: Int, flopsPerSecond: Double) {
      self.m = m
      self.n = n
      self.k = k
      self.flopsPerSecond = flopsPerSecond
    }
  }

  /// A kernel's fitted weights for the five terms, and how well they fit its own timings.
  public struct KernelFit: Codable, Sendable, Equatable {
    public var coefficients: [Double]
    /// Timings the fit used.
    public var points: Int
    /// Median over those timings of predicted / measured.
    public var medianRatio: Double
    /// Largest |log(predicted / measured)| over them, as a ratio (1.3 = off by 30% somewhere).
    public var worstRatio: Double
  }

  public var formatVersion: Int
  /// `attnc <version>` that measured it.
  public var producer: String
  /// CPU model and core count; a profile from another machine is re-measured.
  public var machine: String
  /// The thread budget the timings ran with.
  public var threads: Int
  /// ISO 8601 time of the measurement.
  public var measuredAt: String
  public var gemm: [GemmRate]
  /// Median sgemm rate over `gemm`, FLOP/s.
  public var gemmFlopsPerSecond: Double
  /// attnc's packed GEMM on bfloat16 operands over the same shapes (`--linear-precision bf16`);
  /// empty: priced as float32.
  public var bfloat16Gemm: [GemmRate] = []
  /// Copy bandwidth (bytes read + written per second) over a buffer far larger than the caches.
  public var bandwidthBytesPerSecond: Double
  /// `exp` throughput of the vectorised loop the kernels use, per second.
  public var exponentialsPerSecond: Double
  /// Time of one interpreter-style kernel call on a one-element tensor, seconds.
  public var callOverheadSeconds: Double
  /// Per candidate setting and causal form (`performer`, `fastmax:p=1+causal`…), its fitted weights.
  public var fits: [String: KernelFit]

  /// This machine's profile at these rates, fits to come (`MachineCalibration` measures both;
  /// tests give plain rates). The sgemm rate is the median over `gemm`.
  public init(
    threads: Int, measuredAt: String, gemm: [GemmRate], bandwidthBytesPerSecond: Double, exponentialsPerSecond: Double,
    callOverheadSeconds: Double
  ) {
    formatVersion = Self.formatVersion
    producer = AttncBuild.version
    machine = Self.currentMachine
    self.threads = threads
    self.measuredAt = measuredAt
    self.gemm = gemm
    gemmFlopsPerSecond = gemm.map(\.flopsPerSecond).median
    self.bandwidthBytesPerSecond = bandwidthBytesPerSecond
    self.exponentialsPerSecond = exponentialsPerSecond
    self.callOverheadSeconds = callOverheadSeconds
    fits = [:]
  }

  /// The fit key of a setting (`performer`, `fastmax:p=1`) in one causal form.
  public static func fitKey(_ setting: String, causal: Bool) -> String { causal ? setting + "+causal" : setting }

  /// The five terms for one attention of `heads` (batch × query heads) heads whose every head
  /// costs `cost`: each scaled by the heads one thread runs (`heads / min(threads, heads)`).
  public func features(_ cost: AttentionCost, heads: Int) -> [Double] {
    let serial = Double(heads) / Double(max(1, min(threads, heads)))
    return [
      serial * cost.flops / gemmFlopsPerSecond, serial * cost.exponentials / exponentialsPerSecond,
      serial * cost.bytes / bandwidthBytesPerSecond, callOverheadSeconds, serial * callOverheadSeconds,
    ]
  }

  /// Predicted seconds of one call of `variant` over `heads` heads of `shape` with `parameters`.
  /// The weights are those fitted for `setting` (`fastmax:p=1`) when the profile has them, else
  /// the variant's default setting's (other parameters scale through the cost formula); a
  /// variant newer than the profile weighs each term 1.
  public func predictSeconds(
    _ definition: AttentionVariantDefinition, _ parameters: VariantParameters, shape: AttentionShape, heads: Int,
    setting: String? = nil
  ) -> Double {
    let terms = features(definition.cost(shape, parameters), heads: heads)
    let weights = (setting.flatMap { fits[Self.fitKey($0, causal: shape.causal)] } ?? fits[Self.fitKey(definition.name, causal: shape.causal)])?
      .coefficients ?? [1, 1, 1, 1, 1]
    return zip(weights, terms).reduce(0) { $0 + $1.0 * $1.1 }
  }

  /// Predicted seconds of a matrix product of `flops` FLOPs (the rest of a layer: projections, MLP).
  public func gemmSeconds(flops: Double) -> Double { flops / gemmFlopsPerSecond }

  /// Predicted seconds of an `[m, k] × [k, n]` product at `precision`: at the rate measured for
  /// the nearest shape of the profile's grid for that precision (distance in log m, log n,
  /// log k), else the mean rate.
  public func gemmSeconds(flops: Double, m: Int, n: Int, k: Int, precision: LinearPrecision = .float32) -> Double {
    func distance(_ rate: GemmRate) -> Double {
      func term(_ a: Int, _ b: Int) -> Double { let d = log(Double(max(a, 1))) - log(Double(max(b, 1))); return d * d }
      return term(rate.m, m) + term(rate.n, n) + term(rate.k, k)
    }
    let grid = precision == .bfloat16 && !bfloat16Gemm.isEmpty ? bfloat16Gemm : gemm
    guard let nearest = grid.min(by: { distance($0) < distance($1) }), nearest.flopsPerSecond > 0 else {
      return gemmSeconds(flops: flops)
    }
    return flops / nearest.flopsPerSecond
  }

  /// Predicted seconds of a memory-bound kernel moving `bytes` (norms, elementwise, copies).
  public func streamSeconds(bytes: Double) -> Double { bytes / bandwidthBytesPerSecond + callOverheadSeconds }

  // MARK: - Cache

  /// Where the profile is cached: `$ATTNC_MACHINE_PROFILE`, else
  /// `$XDG_CACHE_HOME/attnc/machine.json`, else `~/.cache/attnc/machine.json`.
  public static var defaultPath: String {
    let environment = ProcessInfo.processInfo.environment
    if let path = environment["ATTNC_MACHINE_PROFILE"], !path.isEmpty { return path }
    let base = environment["XDG_CACHE_HOME"].flatMap { $0.isEmpty ? nil : $0 }
      ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache").path
    return base + "/attnc/machine.json"
  }

  /// This machine's fingerprint: CPU model name and online cores.
  public static var currentMachine: String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let model = info.split(separator: "\n").first { $0.hasPrefix("model name") }
      .map { $0.split(separator: ":", maxSplits: 1).last.map { $0.trimmingCharacters(in: .whitespaces) } ?? "" } ?? "unknown CPU"
    return "\(model) × \(ProcessInfo.processInfo.activeProcessorCount)"
  }

  /// The cached profile when it is from this machine, this format and `threads`; else nil.
  public static func cached(at path: String = defaultPath, threads: Int) -> MachineProfile? {
    guard let data = FileManager.default.contents(atPath: path),
      let profile = try? JSONDecoder().decode(MachineProfile.self, from: data),
      profile.formatVersion == formatVersion, profile.machine == currentMachine, profile.threads == threads,
      profile.producer == AttncBuild.version
    else { return nil }
    return profile
  }

  /// The cached profile, or a fresh measurement (about half a minute, reported through
  /// `progress`) written to the cache.
  /// - Throws: when the cache cannot be written.
  public static func current(
    at path: String = defaultPath, threads: Int = ProcessInfo.processInfo.activeProcessorCount,
    progress: (String) -> Void = { _ in }
  ) throws -> MachineProfile {
    if let profile = cached(at: path, threads: threads) { return profile }
    progress("measuring this machine once for the cost model (cached in \(path); `attnc calibrate-machine` refreshes it)")
    let profile = MachineCalibration.measure(threads: threads, progress: progress)
    try profile.save(to: path)
    return profile
  }

  /// Writes the profile as JSON, atomically, creating the folder.
  public func save(to path: String) throws {
    let folder = URL(fileURLWithPath: path).deletingLastPathComponent().path
    try withContext(path) {
      do {
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
      } catch {
        throw AttncError(.io, "cannot create '\(folder)': \(error.localizedDescription)")
      }
      let encoder = JSONEncoder()
      encoder.outputFormatting = [.prettyPrinted, .sortedKeys]
      let data = try encoder.encode(self)
      try AtomicFile.write(Array(data) + [10], to: path)
    }
  }
}
