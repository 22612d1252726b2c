import AttncIR
import AttncPasses
import AttncRuntime
import AttncTensor
import Foundation

/// `--token-merge auto`: the cost model picks `r` per block, within a time budget.
///
/// Every measurement runs the merged exact plan on the calibration inputs (the relative error of
/// every output against the unmerged model), so the search measures few schedules and predicts
/// where to measure next:
/// 1. A constant `r` in every block: the error grows with `r`, roughly as a power of it, so
///    each step fits `error ∝ r^α` through the nearest measured points on either side of the
///    budget and measures where the fit meets the budget (safeguarded to stay inside the
///    bracket), until the bracket is within 10% of its low end.
/// 2. ToMe's decreasing schedule (`2r` falling to 0) at the same total merge, then at the next
///    larger `r`, kept when its predicted time (the whole plan at the calibration length) is less.
/// 3. Each block in turn raises its own `r` (×2, then ×1.5) while the error stays within budget,
///    keeping a change only when the predicted time falls.
/// A stage or step starts only when the time left (`--search-time`, from the start of the
/// search, the reference run included) holds one more measurement at the longest seen so far; the best schedule found is
/// kept. The budget is `--max-output-error` under `--policy exact`, and half of it otherwise,
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
    let started = ContinuousClock.now
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
    // Predictions at the calibration inputs' own symbol values (a ViT's image size), every call
    // by its own cost and each attention at its merged length.
    let bindings = try interpreter.bind(inputs.samples[0])
    func predicted(_ plan: Plan) -> Double {
      PlanCost.predictedSecondsByKernel(plan, bindings: bindings, profile: profile).values.reduce(0, +)
    }
    var tried: [(rates: [Int], error: Double)] = []
    func seconds(since instant: ContinuousClock.Instant) -> Double {
      let duration = ContinuousClock.now - instant
      return Double(duration.components.seconds) + Double(duration.components.attoseconds) * 1e-18
    }
    func elapsed() -> Double { seconds(since: started) }
    var durations: [Double] = []
    typealias Candidate = (rates: [Int], error: Double, seconds: Double)
    /// The merged exact plan for `rates`: its output error and predicted time (nil when the
    /// pass or a run refuses it, e.g. more tokens than a block holds).
    func evaluate(_ rates: [Int]) throws -> Candidate? {
      var merged = graph
      let report: MergeTokens.Report
      do { report = try MergeTokens.apply(rates, to: &merged) } catch { return nil }
      let plan = try lower(merged)
      let error: Double
      do {
        error = try PolicyPlanner.outputError(plan, inputs: inputs, reference: expected, judged: options.judgedOutputs)
      } catch let error as AttncError where error.code == .usage {
        throw error
      } catch { return nil }
      tried.append((report.rates, error))
      progress("  token merge \(report.rates.map(String.init).joined(separator: ",")): output error \(String(format: "%.4f", error)) (budget \(String(format: "%.4f", budget)); \(Int(elapsed())) s of \(String(format: "%g", options.searchSeconds)) s)")
      return (report.rates, error, predicted(plan))
    }
    let unmerged = predicted(reference)
    var best: Candidate = (Array(repeating: 0, count: blocks.count), 0, unmerged)
    /// Measures `rates` unless the time left cannot hold one more measurement (nil then, and
    /// `stopped` says so).
    var stopped = false
    func measure(_ rates: [Int]) throws -> Candidate? {
      if let longest = durations.max(), elapsed() + longest > options.searchSeconds {
        if !stopped { progress("  token merge: --search-time \(String(format: "%g", options.searchSeconds)) s reached; keeping the best schedule found") }
        stopped = true
        return nil
      }
      let began = ContinuousClock.now
      defer { durations.append(seconds(since: began)) }
      return try evaluate(rates)
    }
    func keep(_ result: Candidate?) {
      if let result, result.error <= budget, result.seconds < best.seconds { best = result }
    }
    // 1. A constant r, by a safeguarded power-law search for the largest r within budget.
    let largest = max(1, length / 2)
    var feasible: (r: Int, error: Double) = (0, 0)
    var infeasible: (r: Int, error: Double)?
    var next = max(1, largest / 16)
    while !stopped {
      guard let result = try measure(TokenMergeSchedule(.constant(next)).rates(blocks: blocks.count)!) else { break }
      let r = result.rates.max() ?? next
      if result.error <= budget {
        keep(result)
        if r > feasible.r { feasible = (r, result.error) }
      } else if infeasible == nil || r < infeasible!.r {
        infeasible = (r, result.error)
      }
      // A measured r below `next` means the pass clamped it: nothing larger fits.
      if result.error <= budget && r < next { break }
      let high = infeasible?.r ?? largest + 1
      if high - feasible.r <= max(1, feasible.r / 10) { break }
      next = Self.nextRate(feasible: feasible, infeasible: infeasible, budget: budget, largest: largest)
    }
    // 2. The decreasing schedule at the same total merge (2r falling to 0 averages r), then one
    //    step larger.
    if best.rates.contains(where: { $0 > 0 }) {
      let r = best.rates.max()!
      for candidate in [r, r + max(1, r / 4)] where !stopped {
        let result = try measure(TokenMergeSchedule(.decreasing(candidate)).rates(blocks: blocks.count)!)
        keep(result)
        guard let result, result.error <= budget else { break }
      }
    }
    // 3. Per block, first to last: raise its r while the error stays within budget, keeping a
    //    change only when the predicted time falls (a merge in the last blocks may cost more
    //    matching than it saves).
    for block in blocks.indices where !stopped {
      for factor in [2.0, 1.5] {
        var rates = best.rates
        rates[block] = min(largest, max(1, Int((Double(rates[block]) * factor).rounded())))
        guard rates[block] > best.rates[block], let result = try measure(rates) else { continue }
        if result.rates[block] == rates[block] { keep(result) }
        if result.error <= budget { break }
      }
    }
    return Choice(
      rates: best.rates, outputError: best.error, budget: budget, predictedSeconds: best.seconds, unmergedSeconds: unmerged,
      length: length, tried: tried)
  }

  /// The next constant `r` to measure: where `error ∝ r^α` meets the budget, fitted through the
  /// largest feasible and the smallest infeasible `r` measured (α = 1 until both are known with
  /// errors above 0), kept inside the bracket's middle half; extrapolating, at most 4× (at least
  /// ¼×) the point it starts from, and above a feasible point by at least 1.25× (errors are noisy in `r`).
  static func nextRate(feasible: (r: Int, error: Double), infeasible: (r: Int, error: Double)?, budget: Double, largest: Int) -> Int {
    let high = infeasible?.r ?? largest + 1
    var guess: Double
    if feasible.r > 0, feasible.error > 0, let infeasible, infeasible.error > feasible.error {
      let alpha = log(infeasible.error / feasible.error) / log(Double(infeasible.r) / Double(feasible.r))
      guess = Double(feasible.r) * pow(budget / feasible.error, 1 / max(alpha, 0.25))
    } else if feasible.r > 0 {
      guess = Double(feasible.r) * (feasible.error > 0 ? min(4, max(1.25, budget / feasible.error)) : 4)
    } else if let infeasible {
      guess = Double(infeasible.r) * max(0.25, budget / infeasible.error)
    } else {
      guess = Double(high) / 2
    }
    if infeasible != nil {
      let span = Double(high - feasible.r)
      guess = min(max(guess, Double(feasible.r) + span / 4), Double(high) - span / 4)
    }
    return min(max(Int(guess.rounded()), feasible.r + 1), high - 1, largest)
  }
}
