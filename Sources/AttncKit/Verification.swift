import AttncCost
import AttncKernels
import AttncRuntime
import AttncTensor
import Foundation

/// `attnc verify`: how far a plan's results are from the exact model's, end to end and per
/// attention layer.
public enum Verification {
  public struct Report: Sendable {
    /// `‖y − y_ref‖_F / ‖y_ref‖_F` per output, in the plan's output order.
    public var outputs: [(name: String, error: Double)]
    /// Each attention layer's own error: its output against exact attention on the same
    /// inputs (so upstream layers' errors do not count twice). Exact layers give 0.
    public var layers: [(layer: Int, node: String, variant: String, error: Double)]
    /// The largest output error.
    public var outputError: Double { outputs.map(\.error).max() ?? 0 }

    public var json: JSON {
      .object([
        ("output_error", .number(outputError)),
        ("outputs", .array(outputs.map { .object([("name", .string($0.name)), ("error", .number($0.error))]) })),
        ("layers", .array(layers.map {
          .object([("layer", .int($0.layer)), ("node", .string($0.node)), ("variant", .string($0.variant)), ("error", .number($0.error))])
        })),
      ])
    }
  }

  /// The token-merging steps of `plan` (its `TokenMerge` calls): when there are any, a
  /// verification's output errors include merging, its attention errors do not.
  public static func tokenMerges(in plan: Plan) -> Int {
    plan.instructions.filter { $0.call is TokenMergeCall }.count
  }

  /// Runs `plan` and the exact plan of `reference` on `inputs` and compares them.
  /// - Throws: when the two plans' inputs or outputs do not correspond, or a run fails.
  public static func verify(_ plan: Plan, reference: Plan, inputs: [HostTensor]) throws -> Report {
    let planInputs = plan.inputs.map { plan.slots[$0].name }, referenceInputs = reference.inputs.map { reference.slots[$0].name }
    guard planInputs == referenceInputs else {
      throw AttncError(.usage, "the plan's inputs \(planInputs) are not the reference model's \(referenceInputs)")
    }
    let planOutputs = plan.outputs.map { plan.slots[$0].name }
    guard planOutputs == reference.outputs.map({ reference.slots[$0].name }) else {
      throw AttncError(.usage, "the plan's outputs \(planOutputs) are not the reference model's")
    }
    let expected = try Interpreter(plan: reference).run(inputs)
    let interpreter = try Interpreter(plan: plan)
    var layers: [(Int, String, String, Double)] = []
    interpreter.observer = { instruction, arguments, results in
      guard let attention = instruction.call as? FusedAttentionCall else { return }
      let operands = attention.attentionOperands(arguments, results)
      let keys = operands[1]?.shape.dropLast().last, queries = operands[0]?.shape.dropLast().last
      let chosen = try? attention.variant(forKeys: keys ?? 0, queries: queries)
      // The name, with the parameters that say how exact attention runs (`softmax:prec=bf16`).
      let variant = chosen.map { definition, values in
        definition.text(values.values.filter { key, _ in definition.parameters.contains { $0.name == key && (!$0.choices.isEmpty || $0.isHeadSet) } })
      } ?? "softmax"
      let layer = plan.decisions.first { $0.node == instruction.label }?.layer ?? layers.count
      guard let chosen, !chosen.0.isExact(chosen.1) else {
        layers.append((layer, instruction.label, variant, 0))
        return
      }
      var exactCall = attention.onOperands
      (exactCall.variant, exactCall.variantValues, exactCall.dispatch) = ("softmax", [:], nil)
      let exact = try exactCall.evaluate(KernelContext(), operands)
      layers.append((layer, instruction.label, variant, AttentionQuality.relativeError(results[0].floats[...], exact[0].floats[...])))
    }
    let actual = try interpreter.run(inputs)
    let outputs = zip(planOutputs, zip(actual, expected)).map { name, pair in
      (name, AttentionQuality.relativeError(pair.0.floats()[...], pair.1.floats()[...]))
    }
    return Report(outputs: outputs, layers: layers)
  }
}
