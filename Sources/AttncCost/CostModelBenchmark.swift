import AttncKernels
import Foundation

/// `attnc bench cost-model`: does the cost model pick what is truly fastest? On a grid of
/// attention shapes it times every candidate setting, and compares the setting with the least
/// predicted time against the measured fastest. When the two differ they are timed again side by
/// side (five interleaved rounds, each keeping its least), so a near-tie is judged on
/// measurements taken together rather than minutes apart.
public enum CostModelBenchmark {
  /// Interleaved rounds that re-time a disagreement (three left the machine's bursts in: a 10 ms
  /// kernel measured 10.4, 13.7 and 16.5 ms in three runs).
  static let sideBySideRounds = 5

  /// One grid point.
  public struct Point: Sendable {
    public var seqLen: Int
    public var depth: Int
    public var heads: Int
    public var causal: Bool
    /// Per setting: predicted and measured seconds.
    public var timings: [(setting: String, predicted: Double, measured: Double)]
    /// The least predicted setting, and the measured fastest.
    public var chosen: String
    public var fastest: String
    /// `measured(chosen) / measured(fastest) − 1`.
    public var regret: Double
    /// The fit never saw this (N, d, heads): it is not a point of the calibration grid.
    public var unseen: Bool {
      !MachineCalibration.fitPoints.contains { $0.n == seqLen && $0.d == depth && $0.heads == heads }
    }
  }

  public struct Summary: Sendable {
    public var points: [Point]
    /// Share of points whose chosen setting is within 10% of the measured fastest.
    public var withinTenPercentShare: Double
    /// Median over every (point, setting) of predicted / measured.
    public var medianPredictedOverMeasured: Double
    public var worstRegret: Double
    public var worstRegretPoint: Point?
  }

  /// - Parameters:
  ///   - lengths, depths, heads: the grid (every combination, causal and not).
  ///   - progress: one line per point.
  public static func run(
    profile: MachineProfile, lengths: [Int], depths: [Int], heads: [Int], causal: [Bool] = [false, true],
    progress: (String) -> Void = { _ in }
  ) throws -> Summary {
    var points: [Point] = []
    for isCausal in causal {
      for n in lengths {
        for d in depths {
          for h in heads {
            let shape = AttentionShape(queries: n, keys: n, depth: d, valueDepth: d, causal: isCausal)
            var timings: [(String, Double, Double)] = []
            for setting in AttentionCandidate.settings {
              let (definition, parameters) = try AttentionVariants.parse(setting)
              if isCausal && !definition.supportsCausal { continue }
              let predicted = profile.predictSeconds(definition, parameters, shape: shape, heads: h, setting: setting)
              let measured = try MachineCalibration.timeAttention(definition, parameters, shape: shape, heads: h)
              timings.append((setting, predicted, measured))
            }
            let chosen = timings.min { $0.1 < $1.1 }!
            var fastest = timings.min { $0.2 < $1.2 }!
            if chosen.0 != fastest.0 {
              // A near-tie timed minutes apart on a shared machine flips with the load: time the
              // two side by side, interleaved, and keep each one's least.
              var pair = [chosen.0: chosen.2, fastest.0: fastest.2]
              for _ in 0..<sideBySideRounds {
                for setting in [chosen.0, fastest.0] {
                  let (definition, parameters) = try AttentionVariants.parse(setting)
                  pair[setting] = min(pair[setting]!, try MachineCalibration.timeAttention(definition, parameters, shape: shape, heads: h))
                }
              }
              for index in timings.indices where pair[timings[index].0] != nil { timings[index].2 = pair[timings[index].0]! }
              fastest = timings.min { $0.2 < $1.2 }!
            }
            let chosenMeasured = timings.first { $0.0 == chosen.0 }!.2
            let point = Point(
              seqLen: n, depth: d, heads: h, causal: isCausal, timings: timings, chosen: chosen.0, fastest: fastest.0,
              regret: chosenMeasured / fastest.2 - 1)
            progress(
              "N=\(n) d=\(d) heads=\(h)\(isCausal ? " causal" : ""): chose \(chosen.0) (\(String(format: "%.2f", chosenMeasured * 1e3)) ms), "
                + "fastest \(fastest.0) (\(String(format: "%.2f", fastest.2 * 1e3)) ms), regret \(String(format: "%.1f", point.regret * 100))%")
            points.append(point)
          }
        }
      }
    }
    let ratios = points.flatMap { $0.timings.map { $0.predicted / $0.measured } }
    let worst = points.max { $0.regret < $1.regret }
    return Summary(
      points: points, withinTenPercentShare: Double(points.filter { $0.regret <= 0.1 }.count) / Double(max(points.count, 1)),
      medianPredictedOverMeasured: ratios.median, worstRegret: worst?.regret ?? 0, worstRegretPoint: worst)
  }
}

extension CostModelBenchmark.Summary {
  /// The table `attnc bench cost-model` prints: one row per grid point, then the totals.
  public var table: String {
    var lines = ["    N    d  heads  causal  chosen (predicted fastest)  fastest measured  regret  pred/meas (chosen)"]
    for p in points {
      let chosen = p.timings.first { $0.setting == p.chosen }!
      lines.append(
        String(format: "%6d %3d %5d  ", p.seqLen, p.depth, p.heads) + (p.causal ? "yes     " : "no      ")
          + p.chosen.padding(toLength: 28, withPad: " ", startingAt: 0) + p.fastest.padding(toLength: 18, withPad: " ", startingAt: 0)
          + String(format: "%5.1f%%  %.2f", p.regret * 100, chosen.predicted / chosen.measured))
    }
    let unseen = points.filter(\.unseen).count
    let grid = MachineCalibration.fitPoints
    func values(_ list: [Int]) -> String { Array(Set(list)).sorted().map(String.init).joined(separator: ", ") }
    lines.append(
      "\(unseen) of \(points.count) points are shapes the fit never saw (it was fitted on N = \(values(grid.map(\.n))); "
        + "d = \(values(grid.map(\.d))); heads = \(values(grid.map(\.heads))))")
    lines.append(String(
      format: "grid points %d; chosen within 10%% of the measured fastest: %.0f%% (target >= 90%%); median predicted/measured %.3f (target 0.8-1.25); worst regret %.1f%%",
      points.count, withinTenPercentShare * 100, medianPredictedOverMeasured, worstRegret * 100))
    return lines.joined(separator: "\n")
  }
}
