import AttncKernels
import AttncRuntime
import AttncTensor

/// A plan's cost, instruction by instruction, from each call's own `cost` (no list of kernel
/// names here): matrix-product FLOPs at the machine's GEMM rate, bytes at its memory rate, a
/// call's overhead each.
public enum PlanCost {
  /// The shapes of `instruction`'s operands, given each slot's dims (nil where unknown: taken
  /// as one element).
  public static func shapes(_ instruction: Plan.Instruction, in plan: Plan, dims: (Int) -> [Int]?) -> KernelShapes {
    KernelShapes(
      inputs: instruction.inputs.map { slot in slot.map { dims($0) ?? [1] } },
      constantInputs: instruction.inputs.map { slot in slot.map { plan.constants[$0] != nil } ?? false },
      outputs: instruction.outputs.map { dims($0) ?? [1] })
  }

  /// The shapes of every slot at `bindings` (a dim that does not resolve counts as 1).
  public static func slotDims(_ plan: Plan, bindings: [String: Int]) -> (Int) -> [Int]? {
    { slot in plan.slots[slot].dims.map { $0.evaluate(bindings) ?? 1 } }
  }

  /// Seconds of one call of cost `cost` on `profile`: its products at the GEMM rate measured
  /// nearest their shape (the bfloat16 rate for bfloat16 products), plus its bytes at the memory rate, and one call's overhead.
  public static func seconds(_ cost: KernelCost, profile: MachineProfile) -> Double {
    var products = 0.0
    if cost.flops > 0 {
      products = cost.product.map {
        profile.gemmSeconds(flops: cost.flops, m: $0.m, n: $0.n, k: $0.k, precision: $0.precision)
      }
        ?? profile.gemmSeconds(flops: cost.flops)
    }
    return products + profile.streamSeconds(bytes: cost.bytes)
  }

  /// Predicted seconds per kernel name at `bindings`, attention calls left out (the policy
  /// prices them per variant).
  public static func secondsByKernel(_ plan: Plan, bindings: [String: Int], profile: MachineProfile) -> [String: Double] {
    predictedSecondsByKernel(plan, bindings: bindings, profile: profile, includingAttention: false)
  }

  /// Predicted seconds per kernel of the whole plan at `bindings`: every call by its own cost,
  /// each attention call (unless left out) by its variant's fitted prediction at its shapes;
  /// calls that depend only on weights and shapes (`ShapeOnlyValues`, run once per shape) are
  /// left out.
  public static func predictedSecondsByKernel(
    _ plan: Plan, bindings: [String: Int], profile: MachineProfile, includingAttention: Bool = true
  ) -> [String: Double] {
    let dims = slotDims(plan, bindings: bindings)
    var result: [String: Double] = [:]
    // What depends only on weights and shapes runs once per shape, not per call.
    let once = ShapeOnlyValues(plan) { plan.constants[$0].flatMap { $0.count <= 16 ? Tensor($0) : nil } }
    for (index, instruction) in plan.instructions.enumerated() where !once.instructions[index] {
      let operands = shapes(instruction, in: plan, dims: dims)
      let cost = instruction.call.cost(operands)
      if cost.isAttention {
        guard includingAttention, let attention = instruction.call as? FusedAttentionCall else { continue }
        result[instruction.kernel, default: 0] += attentionSeconds(attention, operands, profile: profile)
      } else {
        result[instruction.kernel, default: 0] += seconds(cost, profile: profile)
      }
    }
    return result
  }

  /// Predicted seconds of one attention call: its variant's formula at the call's `[B, H, S, d]`
  /// shapes through the profile's fitted weights, over B·H heads.
  static func attentionSeconds(_ call: FusedAttentionCall, _ shapes: KernelShapes, profile: MachineProfile) -> Double {
    guard shapes.inputs.count >= 3, let q = shapes.inputs[0], let k = call.keyShape(shapes), let out = shapes.outputs.first,
      q.count == 4, k.count == 4, out.count == 4, let (definition, values) = try? call.variant(forKeys: k[2], queries: q[2])
    else { return profile.streamSeconds(bytes: 0) }
    let head = AttentionShape(queries: q[2], keys: k[2], depth: q[3], valueDepth: out[3], causal: call.causal)
    // An additive bias (T5's relative positions, an ALiBi or a full mask) is read from memory
    // with the scores: the profile's fits are measured without one.
    var biasBytes = 0.0
    if call.scores.mask == .bias, shapes.inputs.count > call.maskInput, let bias = shapes.inputs[call.maskInput] {
      biasBytes = 4 * Double(bias.reduce(1, *))
    }
    return profile.predictSeconds(definition, values, shape: head, heads: q[0] * q[1])
      + (biasBytes > 0 ? profile.streamSeconds(bytes: biasBytes) : 0)
  }
}
