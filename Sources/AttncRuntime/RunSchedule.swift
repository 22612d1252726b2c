import AttncKernels
import AttncTensor

/// What every run of a plan at one set of input shapes shares, worked out on the first such run
/// so that the next ones do no symbol lookups and no planning: the symbol bindings, the arena
/// plan, each instruction's output shapes (to check the kernels' results against) and arena
/// places, the values that depend only on weights and shapes once computed, and the arena of the
/// last run for the next one to reuse.
///
/// A repeat call with the same input shapes then costs a comparison of the shapes, not a
/// `Dim.evaluate` per output dim nor a closure and dictionary lookups per output.
final class RunSchedule: @unchecked Sendable {
  /// The inputs' element types and shapes this schedule is for, in the plan's input order.
  let inputs: [(dtype: DType, shape: [Int])]
  let bindings: [String: Int]
  /// Per instruction, each output's shape under the bindings (−1 for a dim they do not resolve,
  /// such as a data-dependent size).
  let outputShapes: [[[Int]]]
  /// The arena plan and each instruction's output places in it; nil when runs do not use the arena.
  private(set) var arena: (plan: ArenaPlan, places: [[ArenaPlaces.Place?]])?
  /// The values that depend only on weights and input shapes, once a run has kept them.
  var shapeOnlyValues: [Int: Tensor]?
  /// The last run's arena, for the next run when no value of it is still held elsewhere.
  var spareArena: Arena?

  init(_ plan: Plan, inputs: [(dtype: DType, shape: [Int])], bindings: [String: Int]) {
    self.inputs = inputs
    self.bindings = bindings
    outputShapes = plan.instructions.map { instruction in
      instruction.outputs.map { slot in plan.slots[slot].dims.map { $0.evaluate(bindings) ?? -1 } }
    }
  }

  /// Whether this schedule is for inputs of these element types and shapes.
  func matches(_ others: [(dtype: DType, shape: [Int])]) -> Bool {
    guard others.count == inputs.count else { return false }
    for (a, b) in zip(inputs, others) where a.dtype != b.dtype || a.shape != b.shape { return false }
    return true
  }

  /// Sets the arena plan and works out each instruction's output places from it.
  func setArena(_ arenaPlan: ArenaPlan, of plan: Plan) {
    let places = plan.instructions.map { instruction in
      instruction.outputs.map { slot -> ArenaPlaces.Place? in
        guard let offset = arenaPlan.offsets[slot], let count = arenaPlan.counts[slot] else { return nil }
        return ArenaPlaces.Place(offset: offset, count: count)
      }
    }
    arena = (arenaPlan, places)
  }

  /// Whether `shape` is what instruction `index`'s output `position` should be.
  func expects(_ shape: [Int], instruction index: Int, output position: Int) -> Bool {
    let expected = outputShapes[index][position]
    if expected == shape { return true }
    guard expected.count == shape.count else { return false }
    for (dim, actual) in zip(expected, shape) where dim >= 0 && dim != actual { return false }
    return true
  }
}

/// The most recent schedules of an interpreter, the newest first, at most `capacity`.
struct RunSchedules {
  private var entries: [RunSchedule] = []
  let capacity = 8

  /// The schedule for inputs of these element types and shapes, moved to the front.
  mutating func find(_ inputs: [(dtype: DType, shape: [Int])]) -> RunSchedule? {
    guard let index = entries.firstIndex(where: { $0.matches(inputs) }) else { return nil }
    let found = entries[index]
    if index > 0 {
      entries.remove(at: index)
      entries.insert(found, at: 0)
    }
    return found
  }

  mutating func insert(_ schedule: RunSchedule) {
    entries.insert(schedule, at: 0)
    if entries.count > capacity { entries.removeLast() }
  }
}
