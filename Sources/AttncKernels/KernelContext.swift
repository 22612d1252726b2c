import AttncTensor

/// Everything a kernel call sees besides its inputs and its own parameters: the output count,
/// and the bindings of the plan's symbols (`batch`, `seq`) for this run.
public struct KernelContext: Sendable {
  public var outputCount: Int
  public var bindings: [String: Int]
  /// The interpreter's arena and where in it each output goes (nil: a fresh array), when it
  /// planned this call's outputs.
  public var places: ArenaPlaces?

  public init(outputCount: Int = 1, bindings: [String: Int] = [:]) {
    self.outputCount = outputCount
    self.bindings = bindings
  }

  /// Where float output `index` goes: planned arena memory when the interpreter planned that
  /// output at `count` floats, or a fresh array. Calls that write their outputs through this say
  /// so in their `memory`.
  public func output(_ index: Int = 0) -> FloatOutput {
    guard let places else { return FloatBuffer.init(uninitializedCount:) }
    return { count in places.region(index, count: count) ?? FloatBuffer(uninitializedCount: count) }
  }

  /// Evaluates plan dims under the bindings.
  /// - Throws: "dim 'seq + 1' uses unbound symbols" (`.unsupported`: constant folding, which has
  ///   no bindings, skips such a call).
  public func resolve(_ dims: [Dim]) throws -> [Int] {
    try dims.map { dim in
      guard let value = dim.evaluate(bindings) else {
        throw AttncError.unsupported("dim '\(dim)' uses unbound symbols")
      }
      return value
    }
  }
}

/// The arena places of one instruction's outputs: a region of `arena` per planned output.
public struct ArenaPlaces: Sendable {
  /// One planned output: its byte offset in the arena and its size in floats.
  public struct Place: Sendable, Equatable {
    public var offset: Int
    public var count: Int
    public init(offset: Int, count: Int) { (self.offset, self.count) = (offset, count) }
  }

  public var arena: Arena
  /// Per output position: its place, or nil when the interpreter did not plan it.
  public var outputs: [Place?]

  public init(arena: Arena, outputs: [Place?]) { (self.arena, self.outputs) = (arena, outputs) }

  /// Output `index`'s arena region when it is planned at exactly `count` floats; nil otherwise.
  public func region(_ index: Int, count: Int) -> FloatBuffer? {
    guard index < outputs.count, let place = outputs[index], place.count == count else { return nil }
    return arena.region(offset: place.offset, count: count)
  }
}

/// How a kernel uses memory, for the interpreter's arena plan.
public struct KernelMemory: Sendable {
  /// Float outputs the kernel writes into the buffer `KernelContext.output(k)` gives.
  public var outputs: Set<Int> = []
  /// Inputs output 0 may overwrite (elementwise: each element is read before it is written),
  /// when that input has output 0's size and is not used after this call.
  public var inPlace: [Int] = []
  /// Output 0 is input 0's elements under a new shape (no copy).
  public var view = false
  /// Every float output is written through `KernelContext.output` (Split).
  public var everyOutput = false

  /// Whether output `position` is written into given memory.
  public func writes(_ position: Int) -> Bool { everyOutput || outputs.contains(position) }

  public static let none = KernelMemory()
  public static let output = KernelMemory(outputs: [0])
  public static let elementwise = KernelMemory(outputs: [0], inPlace: [0, 1])
  public static let viewOfInput = KernelMemory(view: true)
}
