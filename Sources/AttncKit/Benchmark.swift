import AttncCost
import AttncKernels
import AttncRuntime
import AttncTensor
import Foundation

/// Timing of plans on synthetic inputs, and of the machine's sgemm, for `attnc bench`.
public enum Benchmark {
  /// One timed configuration.
  public struct Result: Sendable {
    public var bindings: [String: Int]
    /// Median, min and max wall time of one run, in milliseconds.
    public var median: Double
    public var minimum: Double
    public var maximum: Double
    /// Multiply-add FLOPs of the plan's matrix products at these bindings (2·m·n·k each).
    public var flops: Double
    /// Largest total size of the values alive at once, in bytes.
    public var peakBytes: Int
    /// The cost model's predicted milliseconds of one run (set by the caller with a profile).
    public var predicted: Double?
    /// Milliseconds per kernel name in one profiled run after the timed ones.
    public var kernels: [String: Double] = [:]
    /// Matrix-product FLOPs per kernel name (each call's own cost), beside `kernels`: their
    /// ratio is a kernel's achieved rate in the model (the fused attention's on every shape).
    public var kernelFLOPs: [String: Double] = [:]
  }

  /// Synthetic inputs for `plan` with its symbols bound, as the cost model generates them
  /// (`CalibrationInputs.synthetic`: token ids within the embedding's vocabulary, all-ones
  /// masks, positions, seeded standard normal floats), so runs compare.
  /// - Throws: `.usage` naming a symbol that `bindings` leaves unbound.
  public static func inputs(for plan: Plan, bindings: [String: Int]) throws -> [HostTensor] {
    try CalibrationInputs.synthetic(for: plan, bindings: bindings, seed: 0x5EED).samples[0]
  }

  /// Runs `plan` `warmups + repeats` times and times the last `repeats`.
  public static func time(_ plan: Plan, interpreter: Interpreter, bindings: [String: Int], repeats: Int, warmups: Int = 1) throws -> Result {
    let feeds = try inputs(for: plan, bindings: bindings)
    var times: [Double] = []
    for run in 0..<(warmups + repeats) {
      let start = DispatchTime.now().uptimeNanoseconds
      _ = try interpreter.run(feeds)
      if run >= warmups { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
    }
    times.sort()
    let peakBytes = interpreter.peakBytes
    // One more run records the actual shapes (a plan's dims may hold symbols only a run binds).
    var shapes: [String: [Int]] = [:]
    let observer = interpreter.observer
    interpreter.observer = { instruction, arguments, results in
      for (slot, argument) in zip(instruction.inputs, arguments) { if let slot, let argument { shapes[plan.slots[slot].name] = argument.shape } }
      for (slot, result) in zip(instruction.outputs, results) { shapes[plan.slots[slot].name] = result.shape }
    }
    _ = try interpreter.run(feeds)
    interpreter.observer = observer
    // The profile comes from a run without the observer: with one, the interpreter recomputes
    // the shape-only values it caches (a T5 position bias), which the timed runs did not.
    _ = try interpreter.run(feeds, profile: true)
    return Result(
      bindings: bindings, median: times.median, minimum: times.first ?? 0, maximum: times.last ?? 0,
      flops: matrixFLOPs(plan, shapes: shapes), peakBytes: peakBytes,
      kernels: interpreter.profile.mapValues { $0 * 1e3 }, kernelFLOPs: kernelFLOPs(plan, shapes: shapes))
  }

  /// `matrixFLOPs` per kernel name.
  public static func kernelFLOPs(_ plan: Plan, shapes: [String: [Int]]) -> [String: Double] {
    plan.instructions.reduce(into: [:]) { totals, instruction in
      let operands = PlanCost.shapes(instruction, in: plan) { shapes[plan.slots[$0].name] }
      let flops = instruction.call.cost(operands).flops
      if flops > 0 { totals[instruction.kernel, default: 0] += flops }
    }
  }

  /// The FLOPs of every call's matrix products by its own cost (`KernelCall.cost`): 2·m·n·k
  /// for MatMul, FusedMatMul and PackedMatMul, each FusedAttention by its variant's formula
  /// (exact attention: the visible part of QKᵀ and P·V), convolutions, Einsum and token
  /// merging's similarity product; from the values' shapes in a run (by slot name).
  public static func matrixFLOPs(_ plan: Plan, shapes: [String: [Int]]) -> Double {
    kernelFLOPs(plan, shapes: shapes).values.reduce(0, +)
  }



  /// The machine's sgemm rate in FLOP/s: a square `size³` product on the current thread budget
  /// (OpenBLAS, as the plans use it), median of 5 after a warm-up.
  public static func sgemmPeak(size: Int = 1024) -> Double {
    MachineCalibration.gemmRate(m: size, n: size, k: size)
  }
}
