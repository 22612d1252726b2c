import AttncIR
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// `--token-merge auto`: the cost model picks `r` per block.
///
/// Two schedule shapes are searched, a constant `r` and ToMe's decreasing one (`2r` falling to
/// 0); for each, bisection finds the largest `r` whose merged exact plan stays within the merge
/// budget on the calibration inputs (the relative error of every output against the unmerged
/// model). Of the two, the one with the least predicted time (the whole plan at the calibration
/// length: attention at each block's merged length, projections and MLP, the matching) wins.
/// The budget is `--max-output-error` under `--policy exact`, and half of it otherwise, leaving
/// the other half to the attention variants the policy then picks on the merged graph.
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
  /// - Throws: `MergeTokens.Refusal` reasons as `.unsupported`, calibration failures.
  public static func choose(
    _ graph: Graph, options: ConversionOptions, lower: (Graph) throws -> Plan, progress: (String) -> Void
  ) throws -> Choice {
    let blocks: [MergeTokens.Block]
    do { blocks = try MergeTokens.blocks(graph) } catch { throw AttncError.unsupported("token merging: \(error.reason)") }
    let reference = try lower(graph)
    var length = options.syntheticLength
    if case .fixed(let n)? = options.seqLen { length = n }
    let interpreter = try Interpreter(plan: reference)
    let (inputs, expected) = try CalibrationInputs.prepare(
      for: reference, folder: options.calibration, length: length, progress: progress
    ) { inputs in try inputs.samples.map { try interpreter.run($0) } }
    length = try PolicyPlanner.observedLength(reference, inputs.samples[0]) ?? length
    let profile = try MachineProfile.current(at: options.profilePath, progress: progress)
    let budget = options.policy == .exact ? options.limits.maxOutputError : options.limits.maxOutputError / 2
    func predicted(_ plan: Plan, _ graph: Graph) -> Double {
      PolicyPlanner.exactSeconds(plan, graph, seqLen: length, profile: profile)
    }
    var tried: [(rates: [Int], error: Double)] = []
    var best: (rates: [Int], error: Double, seconds: Double)?
    // The largest r a block may merge at this length: about half the tokens left.
    let largest = max(1, length / 2)
    for shape in [TokenMergeSchedule.Form.constant(0), .decreasing(0)] {
      func rates(_ r: Int) -> [Int] {
        let form: TokenMergeSchedule.Form = if case .constant = shape { .constant(r) } else { .decreasing(r) }
        return TokenMergeSchedule(form).rates(blocks: blocks.count)!
      }
      func evaluate(_ r: Int) throws -> (error: Double, plan: Plan, graph: Graph, rates: [Int])? {
        var merged = graph
        let report: MergeTokens.Report
        do { report = try MergeTokens.apply(rates(r), to: &merged) } catch { return nil }
        let plan = try lower(merged)
        let error: Double
        do { error = try PolicyPlanner.outputError(plan, inputs: inputs, reference: expected) } catch { return nil }
        tried.append((report.rates, error))
        progress("  token merge \(report.rates.map(String.init).joined(separator: ",")): output error \(String(format: "%.4f", error))")
        return (error, plan, merged, report.rates)
      }
      // Bisection for the largest r within budget (error grows with r).
      var (low, high) = (0, largest)
      var found: (error: Double, plan: Plan, graph: Graph, rates: [Int])?
      while low < high {
        let mid = (low + high + 1) / 2
        if let result = try evaluate(mid), result.error <= budget {
          (low, found) = (mid, result)
        } else {
          high = mid - 1
        }
      }
      guard let found else { continue }
      let seconds = predicted(found.plan, found.graph)
      if best == nil || seconds < best!.seconds { best = (found.rates, found.error, seconds) }
    }
    let unmerged = predicted(reference, graph)
    guard let best else {
      return Choice(
        rates: Array(repeating: 0, count: blocks.count), outputError: 0, budget: budget, predictedSeconds: unmerged,
        unmergedSeconds: unmerged, length: length, tried: tried)
    }
    return Choice(
      rates: best.rates, outputError: best.error, budget: budget, predictedSeconds: best.seconds, unmergedSeconds: unmerged,
      length: length, tried: tried)
  }
}
