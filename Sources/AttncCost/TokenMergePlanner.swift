import AttncIR
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// `--token-merge auto`: the cost model picks `r` per block.
///
/// First two schedule shapes are searched, a constant `r` and ToMe's decreasing one (`2r`
/// falling to 0); for each, bisection finds the largest `r` whose merged exact plan stays within
/// the merge budget on the calibration inputs (the relative error of every output against the
/// unmerged model), and the one with the least predicted time (the whole plan at the
/// calibration length: attention at each block's merged length, projections and MLP, the
/// matching) is kept. Then each block in turn raises its own `r` (doubling, then two bisection
/// steps) while the error stays within budget, keeping a change only when the predicted time
/// falls. The budget is `--max-output-error` under `--policy exact`, and half of it otherwise,
/// leaving the other half to the attention variants the policy then picks on the merged graph.
public enum TokenMergePlanner {
  /// What `auto` chose and why.
  public struct Choice: Sendable {
    /// `r` per block.
    public var rates: [Int]
    public var outputError: Double
    public var budget: Double
    /// Predicted seconds of the merged and of the unmerged exact plan at `length`.
    public var predictedSeconds: Double
    public var unmergedSeconds: Double
    public var length: Int
    /// Every schedule tried: rates, measured output error.
    public var tried: [(rates: [Int], error: Double)]

    public var summary: String {
      let speedup = predictedSeconds > 0 ? unmergedSeconds / predictedSeconds : 1
      return "token merge auto: r per block \(rates.map(String.init).joined(separator: ",")); output error "
        + String(format: "%.4f (budget %.4f); predicted %.2fx the unmerged exact plan at %d tokens; %d schedules tried", outputError, budget, speedup, length, tried.count)
    }
  }

  /// - Parameters:
  ///   - graph: the matched, unmerged graph.
  ///   - lower: fusion + codegen.
  ///   - loadCalibration: reads `options.calibration` when it names a folder.
  /// - Throws: `MergeTokens.Refusal` reasons as `.unsupported`, calibration failures.
  public static func choose(
    _ graph: Graph, options: ConversionOptions, lower: (Graph) throws -> Plan, loadCalibration: CalibrationInputs.Loader,
    progress: (String) -> Void
  ) throws -> Choice {
    let blocks: [MergeTokens.Block]
    do { blocks = try MergeTokens.blocks(graph) } catch { throw AttncError.unsupported("token merging: \(error.reason)") }
    let reference = try lower(graph)
    var length = options.syntheticLength
    if case .fixed(let n)? = options.seqLen { length = n }
    let interpreter = try Interpreter(plan: reference)
    let (inputs, expected) = try CalibrationInputs.prepare(
      for: reference, folder: options.calibration, length: length, load: loadCalibration, progress: progress
    ) { inputs in try inputs.samples.map { try interpreter.run($0) } }
    length = try PolicyPlanner.observedLength(reference, inputs.samples[0]) ?? length
    let profile = try MachineProfile.current(at: options.profilePath, progress: progress)
    let budget = options.policy == .exact ? options.limits.maxOutputError : options.limits.maxOutputError / 2
    func predicted(_ plan: Plan, _ graph: Graph) -> Double {
      PolicyPlanner.exactSeconds(plan, graph, seqLen: length, profile: profile)
    }
    var tried: [(rates: [Int], error: Double)] = []
    typealias Candidate = (rates: [Int], error: Double, seconds: Double)
    /// The merged exact plan for `rates`: its output error and predicted time (nil when the
    /// pass or a run refuses it, e.g. more tokens than a block holds).
    func evaluate(_ rates: [Int]) throws -> Candidate? {
      var merged = graph
      let report: MergeTokens.Report
      do { report = try MergeTokens.apply(rates, to: &merged) } catch { return nil }
      let plan = try lower(merged)
      let error: Double
      do { error = try PolicyPlanner.outputError(plan, inputs: inputs, reference: expected) } catch { return nil }
      tried.append((report.rates, error))
      progress("  token merge \(report.rates.map(String.init).joined(separator: ",")): output error \(String(format: "%.4f", error))")
      return (report.rates, error, predicted(plan, merged))
    }
    let unmerged = predicted(reference, graph)
    var best: Candidate = (Array(repeating: 0, count: blocks.count), 0, unmerged)
    // 1. Two schedule shapes; for each, bisection for the largest r within budget (the error
    //    grows with r). The largest r a block may merge is about half the tokens left.
    let largest = max(1, length / 2)
    for shape in [TokenMergeSchedule.Form.constant(0), .decreasing(0)] {
      func rates(_ r: Int) -> [Int] {
        let form: TokenMergeSchedule.Form = if case .constant = shape { .constant(r) } else { .decreasing(r) }
        return TokenMergeSchedule(form).rates(blocks: blocks.count)!
      }
      var (low, high) = (0, largest)
      var found: Candidate?
      while low < high {
        let mid = (low + high + 1) / 2
        if let result = try evaluate(rates(mid)), result.error <= budget {
          (low, found) = (mid, result)
        } else {
          high = mid - 1
        }
      }
      if let found, found.seconds < best.seconds { best = found }
    }
    // 2. Per block, first to last: raise its r (doubling, then two bisection steps) while the
    //    error stays within budget, keeping a change only when the predicted time falls (a merge
    //    in the last blocks may cost more matching than it saves).
    for block in blocks.indices {
      var (ok, failed) = (best.rates[block], Int?.none)
      while failed == nil {
        var rates = best.rates
        rates[block] = max(1, 2 * ok)
        guard rates[block] <= largest, let result = try evaluate(rates), result.error <= budget, result.rates[block] == rates[block]
        else { failed = max(1, 2 * ok); break }
        if result.seconds < best.seconds { best = result }
        ok = rates[block]
      }
      for _ in 0..<2 {
        guard let bad = failed, bad - ok > 1 else { break }
        var rates = best.rates
        rates[block] = (ok + bad) / 2
        if let result = try evaluate(rates), result.error <= budget {
          if result.seconds < best.seconds { best = result }
          ok = rates[block]
        } else {
          failed = rates[block]
        }
      }
    }
    return Choice(
      rates: best.rates, outputError: best.error, budget: budget, predictedSeconds: best.seconds, unmergedSeconds: unmerged,
      length: length, tried: tried)
  }
}
