import AttncKernels
import AttncTensor
import CAttnc
import Foundation

/// Runs a plan: binds inputs (checking rank, dtype and every dim against the plan's symbolic
/// shapes), resolves symbols, and calls each instruction's kernel in order. Values are freed
/// after their last use.
///
/// Float values whose kernels write into given memory live in one arena per run, placed by an
/// `ArenaPlan` made once per set of symbol bindings and cached. Other values are arrays of
/// their own. `ATTNC_ARENA=0` turns the arena off (every value an array), for comparison.
public final class Interpreter: @unchecked Sendable {
  public let plan: Plan
  private let lastUse: [Int]
  /// Weights in compute form, converted once.
  private let constants: [Int: Tensor]
  /// `ATTNC_TRACE=1` prints every instruction's output shape and element sum to stderr.
  static let traces = ProcessInfo.processInfo.environment["ATTNC_TRACE"] == "1"

  /// Wall time per kernel name from the last `run` with `profile` set.
  public private(set) var profile: [String: Double] = [:]

  /// The largest total size (bytes, in compute form) of the inputs and intermediate values
  /// alive at once during the last `run`; weights are not counted.
  public private(set) var peakBytes = 0
  /// The arena plan of the last `run` (nil when the arena is off).
  public private(set) var lastArena: ArenaPlan?
  /// The largest total size of the values alive at once outside the arena during the last run.
  public private(set) var peakBytesOutsideArena = 0
  /// Whether runs use the arena (`ATTNC_ARENA=0` turns it off).
  public var usesArena = ProcessInfo.processInfo.environment["ATTNC_ARENA"] != "0"
  private var arenaPlans: [[String: Int]: ArenaPlan] = [:]
  private let arenaLock = NSLock()
  /// What depends only on weights and input shapes, computed once per set of bindings.
  private let shapeOnly: ShapeOnlyValues
  /// Per set of input shapes: bindings, output shapes, arena places, shape-only values.
  private var schedules = RunSchedules()
  /// The value slots with the constants in place, copied at the start of each run.
  private let constantValues: [Tensor?]
  /// Per instruction, the slots whose last reader it is (inputs, not constants): freed after it.
  private let releases: [[Int]]
  /// Instructions the last `run` skipped because their values were cached for its shapes.
  public private(set) var skippedInstructions = 0
  /// Called after each instruction with its inputs and outputs (`attnc verify` uses it to
  /// measure each attention layer's own error); nil in normal runs.
  public var observer: ((_ instruction: Plan.Instruction, _ inputs: [Tensor?], _ outputs: [Tensor]) throws -> Void)?

  public init(plan: Plan) throws {
    // Large intermediate values are freed after their last use and the next ones allocated
    // fresh; glibc returns each block over its mmap threshold to the kernel, so every large
    // output is page-faulted and zeroed again (half of a GELU's time at 8192 tokens on the
    // project's VM). Keep freed blocks in the heap for reuse until the liveness arena plans it.
    attnc_keep_freed_memory()
    self.plan = plan
    lastUse = plan.lastUses()
    constants = Interpreter.load(plan.constants)
    let loaded = constants
    shapeOnly = ShapeOnlyValues(plan) { loaded[$0] }
    var values = [Tensor?](repeating: nil, count: plan.slots.count)
    for (slot, tensor) in loaded { values[slot] = tensor }
    constantValues = values
    let lastUse = lastUse
    releases = plan.instructions.enumerated().map { index, instruction in
      var slots: [Int] = []
      for case let slot? in instruction.inputs
      where lastUse[slot] == index && plan.constants[slot] == nil && !slots.contains(slot) {
        slots.append(slot)
      }
      return slots
    }
  }

  /// The plan's weights in compute form, floating-point ones in one 64-byte aligned block
  /// (each weight at a 64-byte boundary), so that their alignment does not depend on what the
  /// process allocated before (SIMD loads of a weight then never straddle cache lines by chance).
  /// Separate arrays if the block cannot be had.
  static func load(_ hosts: [Int: HostTensor]) -> [Int: Tensor] {
    let floating = hosts.filter { $0.value.dtype.isFloatingPoint && $0.value.count > 0 }.sorted { $0.key < $1.key }
    var offsets: [Int: Int] = [:]
    var bytes = 0
    for (slot, host) in floating {
      offsets[slot] = bytes
      bytes += (host.count * 4 + Arena.alignment - 1) / Arena.alignment * Arena.alignment
    }
    guard let block = try? Arena(bytes: bytes) else { return hosts.mapValues { Tensor($0) } }
    var tensors: [Int: Tensor] = [:]
    for (slot, host) in hosts {
      guard let offset = offsets[slot] else {
        tensors[slot] = Tensor(host)
        continue
      }
      var region = block.region(offset: offset, count: host.count)
      region.withUnsafeMutableBufferPointer { target in
        if host.dtype == .float {
          host.storage.bytes.withMemoryRebound(to: Float.self) { source in
            _ = target.initialize(from: source.prefix(host.count))
          }
        } else {
          _ = target.initialize(from: host.floats())
        }
      }
      tensors[slot] = Tensor(dtype: host.dtype, shape: host.shape, floats: region)
    }
    return tensors
  }

  /// Binds the input symbols from the actual shapes.
  /// - Throws: a message naming the input and dim that contradicts the plan or another input.
  public func bind(_ inputs: [HostTensor]) throws -> [String: Int] {
    try bind(shapes: inputs.map { ($0.dtype, $0.shape) })
  }

  /// Binds the input symbols from the inputs' element types and shapes, in the plan's input order.
  /// - Throws: as `bind(_:)`.
  func bind(shapes inputs: [(dtype: DType, shape: [Int])]) throws -> [String: Int] {
    guard inputs.count == plan.inputs.count else {
      throw AttncError.invalid("the plan takes \(plan.inputs.count) inputs, got \(inputs.count)")
    }
    var bindings: [String: Int] = [:]
    var source: [String: String] = [:]
    for (slot, tensor) in zip(plan.inputs, inputs) {
      let expected = plan.slots[slot]
      guard tensor.dtype == expected.dtype else {
        throw AttncError.invalid("input '\(expected.name)' is \(tensor.dtype) but the plan expects \(expected.dtype)")
      }
      guard tensor.shape.count == expected.dims.count else {
        throw AttncError.invalid("input '\(expected.name)' has rank \(tensor.shape.count) (\(tensor.shape)) but the plan expects \(expected.dims.count) (\(expected.dims.shapeDescription))")
      }
      for (axis, (dim, actual)) in zip(expected.dims, tensor.shape).enumerated() {
        if let value = dim.value {
          guard value == actual else {
            throw AttncError.invalid("input '\(expected.name)' dim \(axis) is \(actual) but the plan expects \(value)")
          }
        } else if dim.symbols.count == 1, let symbol = dim.symbols.first, dim == .symbol(symbol) {
          if let bound = bindings[symbol], bound != actual {
            throw AttncError.invalid("input '\(expected.name)' dim \(axis) is \(actual) but '\(symbol)' is \(bound) from input '\(source[symbol] ?? "?")'")
          }
          bindings[symbol] = actual
          source[symbol] = expected.name
        }
      }
    }
    // Expression dims (seq + 1) are checked once every symbol is bound.
    for (slot, tensor) in zip(plan.inputs, inputs) {
      let expected = plan.slots[slot]
      for (axis, (dim, actual)) in zip(expected.dims, tensor.shape).enumerated() {
        if let value = dim.evaluate(bindings), value != actual {
          throw AttncError.invalid("input '\(expected.name)' dim \(axis) is \(actual) but the plan expects \(dim) = \(value)")
        }
      }
    }
    return bindings
  }

  /// The arena plan for `bindings`, made on first use and cached.
  /// - Throws: when the plan fails its check (an internal error).
  public func arenaPlan(for bindings: [String: Int]) throws -> ArenaPlan {
    arenaLock.lock()
    defer { arenaLock.unlock() }
    if let cached = arenaPlans[bindings] { return cached }
    let made = ArenaPlan.make(plan, bindings: bindings)
    try MemoryBound.checkArena(made, bindings: bindings)
    // Overlaps and bounds, under the project's self-checks (debug builds, ATTNC_VERIFY=1).
    if SelfChecks.enabled { try made.validate(against: plan) }
    arenaPlans[bindings] = made
    return made
  }

  /// The schedule for inputs of these element types and shapes: the cached one, or a new one
  /// (binding the symbols, which checks the inputs against the plan).
  /// - Throws: as `bind(_:)`, or when the arena plan fails its check (an internal error).
  private func schedule(for inputs: [(dtype: DType, shape: [Int])]) throws -> RunSchedule {
    arenaLock.lock()
    let found = schedules.find(inputs)
    arenaLock.unlock()
    let schedule: RunSchedule
    if let found {
      schedule = found
    } else {
      let bindings = try bind(shapes: inputs)
      // Before anything of this run is allocated: each value must fit in memory.
      try MemoryBound.checkValues(plan, bindings: bindings)
      schedule = RunSchedule(plan, inputs: inputs, bindings: bindings)
      arenaLock.lock()
      schedules.insert(schedule)
      arenaLock.unlock()
    }
    if usesArena {
      arenaLock.lock()
      let planned = schedule.arena != nil
      arenaLock.unlock()
      if !planned {
        let arenaPlan = try arenaPlan(for: schedule.bindings)
        arenaLock.lock()
        schedule.setArena(arenaPlan, of: plan)
        arenaLock.unlock()
      }
    }
    return schedule
  }

  /// The arena for a run: the schedule's spare one when nothing of its last run still holds it,
  /// else a new one.
  private func takeArena(_ schedule: RunSchedule, bytes: Int) throws -> Arena {
    arenaLock.lock()
    var spare = schedule.spareArena
    schedule.spareArena = nil
    arenaLock.unlock()
    if isKnownUniquelyReferenced(&spare), let arena = spare, arena.bytes == bytes { return arena }
    return try Arena(bytes: bytes)
  }

  private func withScheduleLocked(_ body: () -> Void) {
    arenaLock.lock()
    defer { arenaLock.unlock() }
    body()
  }

  /// Bytes of a value in compute form (4 per float element, 8 per integer).
  static func bytes(of tensor: Tensor) -> Int {
    tensor.floats.count * 4 + tensor.ints.count * 8
  }

  /// Runs the plan on `inputs` (in the plan's input order) and returns the outputs in order.
  public func run(_ inputs: [HostTensor], profile enabled: Bool = false) throws -> [HostTensor] {
    // Bind and check the memory the shapes need before the inputs are copied to compute form.
    _ = try schedule(for: inputs.map { ($0.dtype, $0.shape) })
    return try run(tensors: inputs.map { Tensor($0) }, profile: enabled).map(\.host)
  }

  /// `run` on values in compute form, without converting inputs and outputs to stored form: a
  /// decoding loop feeds one step's outputs (its present keys and values) to the next as they are.
  public func run(tensors inputs: [Tensor], profile enabled: Bool = false) throws -> [Tensor] {
    let schedule = try schedule(for: inputs.map { ($0.dtype, $0.shape) })
    let bindings = schedule.bindings
    var values = constantValues
    for (slot, tensor) in zip(plan.inputs, inputs) { values[slot] = tensor }
    if enabled { profile = [:] }
    var liveBytes = inputs.reduce(0) { $0 + Interpreter.bytes(of: $1) }
    peakBytes = liveBytes
    var heapBytes = liveBytes
    peakBytesOutsideArena = heapBytes
    var planned: (plan: ArenaPlan, places: [[ArenaPlaces.Place?]])?
    if usesArena { withScheduleLocked { planned = schedule.arena } }
    let arenaPlan = planned?.plan
    let arena = try planned.map { try takeArena(schedule, bytes: $0.plan.bytes) }
    lastArena = arenaPlan
    // Values that depend only on weights and shapes: from the cache, or kept from this run.
    // (Not with an observer, which sees every instruction.)
    let caches = observer == nil && !shapeOnly.isEmpty
    var cached: [Int: Tensor]?
    if caches { withScheduleLocked { cached = schedule.shapeOnlyValues } }
    for (slot, tensor) in cached ?? [:] { values[slot] = tensor }
    var kept: [Int: Tensor] = [:]
    skippedInstructions = 0
    var arguments: [Tensor?] = []
    for (index, instruction) in plan.instructions.enumerated() {
      if cached != nil && shapeOnly.instructions[index] {
        skippedInstructions += 1
        continue
      }
      for slot in instruction.inputs { arguments.append(slot.flatMap { values[$0] }) }
      var context = KernelContext(outputCount: instruction.outputs.count, bindings: bindings)
      if let arena, let planned {
        context.places = ArenaPlaces(arena: arena, outputs: planned.places[index])
      }
      let start = enabled ? DispatchTime.now().uptimeNanoseconds : 0
      let results = try withContext("node '\(instruction.label)' (\(instruction.kernel))") {
        let results = try instruction.call.evaluate(context, arguments)
        guard results.count >= instruction.outputs.count else {
          throw AttncError.invalid("kernel returned \(results.count) outputs, the plan expects \(instruction.outputs.count)")
        }
        for (position, slot) in instruction.outputs.enumerated()
        where !schedule.expects(results[position].shape, instruction: index, output: position) {
          throw AttncError.invalid("internal: output '\(plan.slots[slot].name)' has shape \(results[position].shape) but the plan says \(plan.slots[slot].dims.shapeDescription)")
        }
        return results
      }
      if enabled {
        profile[instruction.kernel, default: 0] += Double(DispatchTime.now().uptimeNanoseconds - start) / 1e9
      }
      if let observer {
        try withContext("node '\(instruction.label)' (\(instruction.kernel))") { try observer(instruction, arguments, results) }
      }
      arguments.removeAll(keepingCapacity: true)
      if caches && cached == nil && shapeOnly.instructions[index] {
        for (slot, result) in zip(instruction.outputs, results) where shapeOnly.kept.contains(slot) {
          var copy = result
          if result.floats.isInArena { copy.floats = FloatBuffer(result.floats.owned) }
          kept[slot] = copy
        }
      }
      for (position, slot) in instruction.outputs.enumerated() {
        var result = results[position]
        // Arena memory a value may keep is only its own planned place (or its group's): anything
        // else (an input handed back by a kernel the plan does not know as a view) is copied out.
        if let arena, let offset = arena.offset(of: result.floats), offset != planned?.places[index][position]?.offset {
          result.floats = FloatBuffer(result.floats.owned)
        }
        values[slot] = result
        liveBytes += Interpreter.bytes(of: result)
        if !result.floats.isInArena { heapBytes += Interpreter.bytes(of: result) }
      }
      peakBytes = max(peakBytes, liveBytes)
      peakBytesOutsideArena = max(peakBytesOutsideArena, heapBytes)
      if Interpreter.traces {
        for (slot, result) in zip(instruction.outputs, results) {
          let sum = result.isFloat ? result.floats.reduce(0.0) { $0 + Double($1) } : Double(result.ints.reduce(0, &+))
          let took = enabled ? String(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) + " ms" : ""
          FileHandle.standardError.write(Data("trace \(index) \(instruction.kernel) '\(plan.slots[slot].name)' \(result.shape) sum \(sum) \(took)\n".utf8))
        }
      }
      for slot in releases[index] {
        if let value = values[slot] {
          liveBytes -= Interpreter.bytes(of: value)
          if !value.floats.isInArena { heapBytes -= Interpreter.bytes(of: value) }
        }
        values[slot] = nil
      }
    }
    if caches && cached == nil { withScheduleLocked { schedule.shapeOnlyValues = kept } }
    if let arena { withScheduleLocked { schedule.spareArena = arena } }
    return try plan.outputs.map { slot in
      guard let tensor = values[slot] else {
        throw AttncError.invalid("internal: output '\(plan.slots[slot].name)' was not computed")
      }
      var result = tensor
      result.dtype = plan.slots[slot].dtype
      return result
    }
  }
}
