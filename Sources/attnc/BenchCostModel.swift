import ArgumentParser
import AttncCost
import AttncKit
import AttncTensor
import Foundation

/// `attnc bench cost-model`: the cost model's choices against measured times on a grid.
struct BenchCostModel: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "cost-model",
    abstract: "Check the cost model: predicted against measured attention time on a grid of shapes.",
    discussion: """
      For every grid point (each --seq × --depth × --heads, causal and not) it times every \
      candidate setting the policies weigh (each variant at its defaults, and fastmax:p=1) on \
      seeded random q, k, v, and compares the setting with the least predicted time against the \
      measured fastest. It reports the share of points where the choice is within 10% of the \
      fastest (target ≥ 90%), the median predicted/measured ratio (target 0.8–1.25) and the worst \
      regret. The default grid holds only shapes the fit never saw (other N, d and head counts \
      than the calibration grid); the output counts the points the fit never saw. The machine \
      profile is measured first if this machine has none cached.

      Examples:
        attnc bench cost-model
        attnc bench cost-model --seq 1024 --seq 4096 --depth 64 --heads 4 --format json
      """)

  @Option(name: .customLong("seq"), help: "Sequence lengths. Repeatable (default 384, 1536, 6144: none of the fit's).")
  var sequences: [Int] = []

  @Option(name: .customLong("depth"), help: "Head dims. Repeatable (default 48, 96: none of the fit's).")
  var depths: [Int] = []

  @Option(name: .customLong("heads"), help: "Head counts. Repeatable (default 4, 12: none of the fit's).")
  var heads: [Int] = []

  @Option(help: "Causal forms to time: both, causal or noncausal.")
  var causal: String = "both"

  @Option(help: "Output format: table or json.")
  var format: OutputFormat = .table

  func validate() throws {
    guard (sequences + depths + heads).allSatisfy({ $0 >= 1 }) else { throw ValidationError("--seq, --depth and --heads must be at least 1") }
    guard ["both", "causal", "noncausal"].contains(causal) else { throw ValidationError("--causal must be both, causal or noncausal") }
  }

  func run() throws {
    let threads = ProcessInfo.processInfo.activeProcessorCount
    let profile = try MachineProfile.current(progress: { FileHandleOutput.standardError($0 + "\n") })
    configureThreads(threads)
    let summary = try CostModelBenchmark.run(
      profile: profile, lengths: sequences.isEmpty ? [384, 1536, 6144] : sequences, depths: depths.isEmpty ? [48, 96] : depths,
      heads: heads.isEmpty ? [4, 12] : heads, causal: causal == "both" ? [false, true] : [causal == "causal"],
      progress: { FileHandleOutput.standardError($0 + "\n") })
    print(format == .json ? summary.json.rendered() : summary.table)
  }
}

/// `attnc calibrate-machine`: measure this machine for the cost model and cache it.
struct CalibrateMachine: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "calibrate-machine",
    abstract: "Measure this machine's rates for the cost model and cache them.",
    discussion: """
      Measures sgemm over the GEMM shapes transformers produce, memory bandwidth, exp \
      throughput and per-call overhead, then times every attention setting on a small grid \
      (N = 128, 256, 1024, 4096; d = 32, 64; 2 and 8 heads; causal and not; every setting at a \
      point before the next point, the grid twice, least kept) and fits each one's weights on \
      those rates by non-negative least squares. The profile is written to \
      ~/.cache/attnc/machine.json ($XDG_CACHE_HOME, or $ATTNC_MACHINE_PROFILE for another \
      path); convert measures it on first use and re-measures when the CPU, the thread count \
      or attnc's version changes. Takes about 70 seconds on 2 cores.

      Examples:
        attnc calibrate-machine
        attnc calibrate-machine --format json
      """)

  @Option(help: "Threads to measure with (default: every core).")
  var threads: Int = ProcessInfo.processInfo.activeProcessorCount

  @Option(help: "Output format: table or json.")
  var format: OutputFormat = .table

  func run() throws {
    let path = MachineProfile.defaultPath
    let profile = MachineCalibration.measure(threads: threads, progress: { FileHandleOutput.standardError($0 + "\n") })
    try profile.save(to: path)
    if format == .json {
      print(String(decoding: try JSONEncoder().encode(profile), as: UTF8.self))
      return
    }
    print("machine profile written to \(path)")
    print("  \(profile.machine), \(profile.threads) threads")
    print(String(format: "  sgemm %.1f GFLOP/s (median of %d shapes), bandwidth %.1f GB/s, exp %.2f G/s, call overhead %.2f µs",
      profile.gemmFlopsPerSecond / 1e9, profile.gemm.count, profile.bandwidthBytesPerSecond / 1e9, profile.exponentialsPerSecond / 1e9,
      profile.callOverheadSeconds * 1e6))
    for rate in profile.gemm {
      print(String(format: "    sgemm m=%d n=%d k=%d: %.1f GFLOP/s", rate.m, rate.n, rate.k, rate.flopsPerSecond / 1e9))
    }
    print("  fitted weights (gemm, exp, bytes, overhead per call, overhead per head) and fit quality on the timing grid:")
    for (key, fit) in profile.fits.sorted(by: { $0.key < $1.key }) {
      let weights = fit.coefficients.map { String(format: "%.3g", $0) }.joined(separator: ", ")
      print("    " + key.padding(toLength: 20, withPad: " ", startingAt: 0) + "[\(weights)]  " + String(format: "median pred/meas %.3f, worst off by %.2fx", fit.medianRatio, fit.worstRatio))
    }
  }
}
