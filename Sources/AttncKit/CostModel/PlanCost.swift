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
  /// nearest their shape, plus its bytes at the memory rate, and one call's overhead.
  public static func seconds(_ cost: KernelCost, profile: MachineProfile) -> Double {
    var products = 0.0
    if cost.flops > 0 {
      products = cost.product.map { profile.gemmSeconds(flops: cost.flops, m: $0.m, n: $0.n, k: $0.k) }
        ?? profile.gemmSeconds(flops: cost.flops)
    }
    return products + profile.streamSeconds(bytes: cost.bytes)
  }

  /// Predicted seconds per kernel name at `bindings`, attention calls left out (the policy
  /// prices them per variant).
  public static func secondsByKernel(_ plan: Plan, bindings: [String: Int], profile: MachineProfile) -> [String: Double] {
    let dims = slotDims(plan, bindings: bindings)
    var result: [String: Double] = [:]
    for instruction in plan.instructions {
      let cost = instruction.call.cost(shapes(instruction, in: plan, dims: dims))
      guard !cost.isAttention else { continue }
      result[instruction.kernel, default: 0] += seconds(cost, profile: profile)
    }
    return result
  }
}
