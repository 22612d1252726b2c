import AttncIR
import AttncKernels
import AttncRuntime
import AttncTensor
import Foundation

/// `--linear-precision`: what the linear layers (`PackedMatMul`) compute on.
public enum LinearPrecisionChoice: String, CaseIterable, Sendable {
  /// float32 operands: exact as far as float32 goes.
  case f32
  /// bfloat16 operands, float32 sums, wherever a weight is packed.
  case bf16
  /// bf16 when the cost model predicts the products faster and (except under `fastest`) the
  /// plan's outputs on the calibration inputs stay within `--max-output-error` of float32's.
  case auto

  /// The default of each policy: `f32` for exact and accurate (their numbers do not move unless
  /// asked), `auto` for balanced (bf16 where it is faster and the outputs stay within
  /// `--max-output-error`) and fastest (bf16 where it is faster, whatever the error).
  public static func `default`(for policy: AttentionPolicy) -> LinearPrecisionChoice {
    policy == .fastest || policy == .balanced ? .auto : .f32
  }
}

/// Chooses the linear layers' precision for a conversion, before the attention policy runs.
public enum LinearPrecisionPlanner {
  /// The choice and what it rests on.
  public struct Decision: Sendable {
    public var precision: LinearPrecision
    /// The bf16 plan's largest relative output error against the f32 plan on the calibration
    /// inputs, when measured (`auto` outside `fastest`).
    public var outputError: Double?
    /// Predicted seconds of all `PackedMatMul` calls at f32 and at bf16, when weighed (`auto`).
    public var predicted: (f32: Double, bf16: Double)?
    /// Why, in a few words.
    public var reason: String

    /// One line for `convert`: "linear layers: bf16 (output error 0.0041 ≤ 0.02 on …; …)".
    public var summary: String {
      var parts = [reason]
      if let predicted {
        parts.append(String(format: "predicted products %.2f ms at f32, %.2f ms at bf16", predicted.f32 * 1e3, predicted.bf16 * 1e3))
      }
      return "linear layers: \(precision.rawValue) (\(parts.joined(separator: "; ")))"
    }
  }

  /// - Parameters:
  ///   - graph: the matched graph the plan is made from (attention exact).
  ///   - lower: lowers a graph to a plan with its linear layers at a precision.
  /// - Throws: calibration inputs that do not fit, a failed run.
  public static func choose(
    _ graph: Graph, options: ConversionOptions, lower: (Graph, LinearPrecision) throws -> Plan,
    loadCalibration: CalibrationInputs.Loader, progress: (String) -> Void
  ) throws -> Decision {
    let choice = options.linearPrecision ?? .default(for: options.policy)
    let given = options.linearPrecision == nil ? "the \(options.policy.rawValue) policy's default" : "--linear-precision \(choice.rawValue)"
    switch choice {
    case .f32: return Decision(precision: .float32, reason: given)
    case .bf16: return Decision(precision: .bfloat16, reason: given)
    case .auto: break
    }
    let f32 = try lower(graph, .float32), bf16 = try lower(graph, .bfloat16)
    guard f32.instructions.contains(where: { $0.kernel == PackedMatMulCall.names[0] }) else {
      return Decision(precision: .float32, reason: "no packed linear layer")
    }
    let profile = try MachineProfile.current(at: options.profilePath, progress: progress)
    let length: Int
    if case .fixed(let n)? = options.seqLen { length = n } else { length = options.syntheticLength }
    func productSeconds(_ plan: Plan) -> Double {
      PlanCost.secondsByKernel(plan, bindings: plan.symbolBindings(batch: 1, sequence: length), profile: profile)[
        PackedMatMulCall.names[0]] ?? 0
    }
    let predicted = (f32: productSeconds(f32), bf16: productSeconds(bf16))
    guard predicted.bf16 < predicted.f32 else {
      return Decision(precision: .float32, predicted: predicted, reason: "auto: bf16 products not predicted faster on this machine")
    }
    guard options.policy != .fastest else {
      return Decision(precision: .bfloat16, predicted: predicted, reason: "auto under fastest: predicted faster")
    }
    progress("measuring the output error of bf16 linear layers (--linear-precision auto)")
    let (inputs, reference) = try CalibrationInputs.prepare(
      for: f32, folder: options.calibration, length: length, load: loadCalibration, progress: progress
    ) { inputs in
      let interpreter = try Interpreter(plan: f32)
      return try inputs.samples.map { try interpreter.run($0) }
    }
    let error = try PolicyPlanner.outputError(bf16, inputs: inputs, reference: reference, judged: options.judgedOutputs)
    let limit = options.limits.maxOutputError
    let measured = "output error \(PolicyPlanner.errorText(error)) against f32 on \(inputs.description)"
    if error <= limit {
      return Decision(precision: .bfloat16, outputError: error, predicted: predicted, reason: "auto: \(measured) ≤ --max-output-error \(limit)")
    }
    return Decision(precision: .float32, outputError: error, predicted: predicted, reason: "auto: \(measured) > --max-output-error \(limit)")
  }
}
