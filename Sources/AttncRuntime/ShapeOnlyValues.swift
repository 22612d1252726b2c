import AttncKernels

/// The part of a plan that depends only on its weights and its input *shapes*: T5's
/// relative-position bucket bias, rotary tables, causal masks built from `Range`, interpolated
/// position embeddings. The interpreter computes it on the first run at a set of bindings, keeps
/// the values the rest of the plan reads, and skips those instructions on later runs at the
/// same bindings.
///
/// An instruction belongs to it when its call is deterministic on the plan's constants and every
/// input is a constant, an omitted optional, or an output of such an instruction; a call that
/// reads only its inputs' shapes (`Shape`, `Size`: `KernelCall.readsInputValues`) belongs
/// whatever its inputs.
///
/// The cost model leaves these instructions out too (`PlanCost`), as runs after the first do.
public struct ShapeOnlyValues: Sendable {
  /// Per instruction: whether it depends only on weights and input shapes.
  public let instructions: [Bool]
  /// Outputs of those instructions that another instruction, or the plan's output list, reads.
  public let kept: Set<Int>

  /// - Parameter constant: the compute-form tensor of a constant slot, where the caller has it
  ///   (only `isDeterministic` reads it, for Dropout's training flag).
  public init(_ plan: Plan, constant: (Int) -> Tensor?) {
    var known = Set(plan.constants.keys)
    var produced = Set<Int>()
    var flags = [Bool](repeating: false, count: plan.instructions.count)
    for (index, instruction) in plan.instructions.enumerated() {
      let inputsKnown = instruction.inputs.allSatisfy { slot in slot.map { known.contains($0) } ?? true }
      guard inputsKnown || !instruction.call.readsInputValues,
        instruction.call.isDeterministic(instruction.inputs.map { slot in slot.flatMap(constant) })
      else { continue }
      flags[index] = true
      known.formUnion(instruction.outputs)
      produced.formUnion(instruction.outputs)
    }
    var kept = Set(plan.outputs.filter { produced.contains($0) })
    for (index, instruction) in plan.instructions.enumerated() where !flags[index] {
      for case let slot? in instruction.inputs where produced.contains(slot) { kept.insert(slot) }
    }
    instructions = flags
    self.kept = kept
  }

  /// Whether any instruction can be skipped.
  public var isEmpty: Bool { !instructions.contains(true) }
}
