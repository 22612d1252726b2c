import AttncTensor

/// Everything a kernel call sees besides its inputs and its own parameters: the output count,
/// and the bindings of the plan's symbols (`batch`, `seq`) for this run.
public struct KernelContext: Sendable {
  public var outputCount: Int
  public var bindings: [String: Int]
  /// The interpreter's memory for output `index` of `count` floats, when it planned that output
  /// into its arena and the count matches the plan; nil otherwise.
  public var allocate: (@Sendable (_ index: Int, _ count: Int) -> FloatBuffer?)?

  public init(outputCount: Int = 1, bindings: [String: Int] = [:]) {
    self.outputCount = outputCount
    self.bindings = bindings
  }

  /// Where float output `index` goes: planned arena memory, or a fresh array. Calls that
  /// write their outputs through this say so in their `memory`.
  public func output(_ index: Int = 0) -> FloatOutput {
    { count in allocate?(index, count) ?? FloatBuffer(uninitializedCount: count) }
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
