import AttncKernels
import AttncTensor

/// Where each planned float value of one run lives in the arena, for one set of symbol bindings.
///
/// A value is planned when its kernel writes that output through `KernelContext.output`
/// (each call's `memory`) and its shape resolves from the bindings. Values that share memory
/// form a group: a view (Reshape, Squeeze…) joins its input's group, and an output written in
/// place over an input that dies at that instruction joins that input's group. A group lives from
/// the instruction that defines its first value to the last use of any of its values (graph
/// outputs to the end). Groups are placed largest first at the lowest 64-byte aligned offset
/// that overlaps no group alive at the same time.
public struct ArenaPlan: Sendable, Equatable {
  /// The arena's size in bytes.
  public var bytes: Int
  /// Byte offset of each planned slot (members of a group share their group's offset).
  public var offsets: [Int: Int]
  /// Float elements of each planned slot.
  public var counts: [Int: Int]
  /// The largest sum of the planned groups' sizes alive at one instruction: no placement can
  /// use less than this.
  public var liveBytes: Int
  /// Outputs written over one of their inputs.
  public var inPlace: Int
  /// The group of each planned slot: slots of one group share memory on purpose.
  public var groups: [Int: Int]

  struct Group {
    var bytes: Int
    var start: Int
    var end: Int
    var slots: [Int]
  }

  /// Plans `plan`'s values under `bindings`.
  public static func make(_ plan: Plan, bindings: [String: Int]) -> ArenaPlan {
    let instructions = plan.instructions
    let end = instructions.count
    let lastUse = plan.lastUses()
    func count(_ slot: Int) -> Int? {
      let value = plan.slots[slot]
      guard value.dtype.isFloatingPoint, plan.constants[slot] == nil else { return nil }
      var total = 1
      for dim in value.dims {
        guard let size = dim.evaluate(bindings), size >= 0 else { return nil }
        total *= size
      }
      return total
    }
    var groups: [Group] = []
    var groupOf: [Int: Int] = [:]
    var counts: [Int: Int] = [:]
    var inPlace = 0
    func join(_ slot: Int, _ group: Int, at index: Int) {
      counts[slot] = counts[groups[group].slots[0]]
      groupOf[slot] = group
      groups[group].slots.append(slot)
      groups[group].end = max(groups[group].end, lastUse[slot], index)
    }
    for (index, instruction) in instructions.enumerated() {
      let memory = instruction.call.memory
      for (position, slot) in instruction.outputs.enumerated() {
        guard let elements = count(slot), elements > 0 else { continue }
        // A view of input 0 shares its group.
        if memory.view, position == 0, let source = instruction.inputs.first ?? nil, let group = groupOf[source],
          counts[source] == elements
        {
          join(slot, group, at: index)
          continue
        }
        guard memory.writes(position) else { continue }
        counts[slot] = elements
        // In place over an input whose group dies here and has this output's size.
        if position == 0, let group = memory.inPlace.lazy.compactMap({ input -> Int? in
          guard input < instruction.inputs.count, let source = instruction.inputs[input], let group = groupOf[source],
            counts[source] == elements, groups[group].end <= index
          else { return nil }
          return group
        }).first {
          join(slot, group, at: index)
          inPlace += 1
          continue
        }
        groupOf[slot] = groups.count
        groups.append(Group(bytes: aligned(elements * 4), start: index, end: max(lastUse[slot], index), slots: [slot]))
      }
    }
    // Largest first, each at the lowest offset clear of the placed groups it overlaps in time.
    var placed: [(offset: Int, group: Group)] = []
    var offsets: [Int: Int] = [:]
    var bytes = 0
    for group in groups.sorted(by: { ($0.bytes, -$0.start) > ($1.bytes, -$1.start) }) {
      let busy = placed.filter { $0.group.start <= group.end && group.start <= $0.group.end }
        .map { ($0.offset, $0.offset + $0.group.bytes) }.sorted { $0.0 < $1.0 }
      var offset = 0
      for (low, high) in busy where offset + group.bytes > low {
        offset = max(offset, high)
      }
      placed.append((offset, group))
      for slot in group.slots { offsets[slot] = offset }
      bytes = max(bytes, offset + group.bytes)
    }
    var live = [Int](repeating: 0, count: end + 1)
    for group in groups {
      for index in group.start...min(group.end, end) { live[index] += group.bytes }
    }
    return ArenaPlan(
      bytes: bytes, offsets: offsets, counts: counts, liveBytes: live.max() ?? 0, inPlace: inPlace, groups: groupOf)
  }

  static func aligned(_ bytes: Int) -> Int {
    (bytes + Arena.alignment - 1) / Arena.alignment * Arena.alignment
  }

  /// Checks the placement against the plan it came from: every region inside the arena and
  /// aligned, and no two slots alive at one instruction overlapping unless they share a group.
  /// - Throws: naming the two slots that collide.
  public func validate(against plan: Plan) throws {
    let lastUse = plan.lastUses()
    var defined = [Int](repeating: -1, count: plan.slots.count)
    for (index, instruction) in plan.instructions.enumerated() {
      for slot in instruction.outputs { defined[slot] = index }
    }
    let slots = offsets.keys.sorted()
    for slot in slots {
      guard let offset = offsets[slot], let count = counts[slot], offset % Arena.alignment == 0, offset + count * 4 <= bytes else {
        throw AttncError.invalid("internal: arena slot '\(plan.slots[slot].name)' lies outside the \(bytes)-byte arena")
      }
    }
    for (i, a) in slots.enumerated() {
      for b in slots[(i + 1)...] {
        let (offsetA, offsetB) = (offsets[a]!, offsets[b]!)
        if groups[a] == groups[b] { continue }
        let aliveTogether = defined[a] <= max(lastUse[b], defined[b]) && defined[b] <= max(lastUse[a], defined[a])
        let overlap = offsetA < offsetB + counts[b]! * 4 && offsetB < offsetA + counts[a]! * 4
        if aliveTogether && overlap {
          throw AttncError.invalid("internal: arena slots '\(plan.slots[a].name)' and '\(plan.slots[b].name)' are alive together but overlap")
        }
      }
    }
  }
}
