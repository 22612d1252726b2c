import AttncTensor
import Foundation

// Checks shared by the compute ops' shape rules.

extension ValueFact {
  /// Throws unless the value is a floating-point tensor.
  /// - Throws: "input 'X' must be floating-point, got int64".
  func expectFloatingPoint(_ name: String) throws {
    guard dtype.isFloatingPoint else {
      throw AttncError.invalid("input '\(name)' must be floating-point, got \(dtype)")
    }
  }

  /// Throws unless the value is a number (integer or floating-point, not bool or string).
  /// - Throws: "input 'X' must be numeric, got bool".
  func expectNumeric(_ name: String) throws {
    guard dtype.isFloatingPoint || dtype.isInteger else {
      throw AttncError.invalid("input '\(name)' must be numeric, got \(dtype)")
    }
  }

  /// Throws unless the value has rank `rank`.
  /// - Throws: "input 'W' must have rank 4, got rank 3".
  func expectRank(_ rank: Int, _ name: String) throws {
    guard self.rank == rank else {
      throw AttncError.invalid("input '\(name)' must have rank \(rank), got rank \(self.rank)")
    }
  }

  /// Throws unless the value has the same element type as `other`.
  /// - Throws: "input 'B' has type float16 but 'X' has float32".
  func expectSameType(as other: ValueFact, _ name: String, _ otherName: String) throws {
    guard dtype == other.dtype else {
      throw AttncError.invalid(
        "input '\(name)' has type \(dtype) but '\(otherName)' has \(other.dtype)")
    }
  }
}

extension Array where Element == ValueFact? {
  /// Inputs `0..<names.count` (called `names` in messages), required, floating point and of
  /// input 0's type: an attention's query, key and value, a rotary's X and caches.
  /// - Throws: "input 2 is required"; "input 'key' has type float16 but 'query' has float32".
  func floatOperands(_ names: String...) throws -> [ValueFact] {
    let facts = try names.indices.map { try required($0) }
    try facts[0].expectFloatingPoint(names[0])
    for (fact, name) in zip(facts, names).dropFirst() { try fact.expectSameType(as: facts[0], name, names[0]) }
    return facts
  }
}

/// Dim agreement for shape rules: two dims that must be equal at run time.
enum DimCheck {
  /// The more informative of two dims that must be equal: the constant when one is constant,
  /// else the first.
  /// - Throws: `what` followed by "differ: 3 and 4" when both are different constants.
  static func unify(_ a: Dim, _ b: Dim, _ what: String) throws -> Dim {
    if a == b { return a }
    switch (a.value, b.value) {
    case (let x?, let y?): throw AttncError.invalid("\(what) differ: \(x) and \(y)")
    case (nil, .some): return b
    default: return a
    }
  }

  /// `dim / divisor` for a head count or group, exact when known.
  /// - Throws: "`what` 30 is not divisible by 4" when both are constants and do not divide.
  static func divide(_ dim: Dim, by divisor: Int, _ what: String) throws -> Dim {
    guard divisor > 0 else {
      throw AttncError.invalid("\(what): divisor \(divisor) is not positive")
    }
    if let value = dim.value, value % divisor != 0 {
      throw AttncError.invalid("\(what) \(value) is not divisible by \(divisor)")
    }
    return dim.floorDivided(by: divisor)
  }
}

/// Fresh data-dependent dims (`unk__resize3_1`) for a shape rule that cannot know a dim
/// statically; each op instance draws its own number, so two nodes never share a symbol.
struct DataDependentDims: Sendable {
  private static let counter = InstanceCounter()
  private let prefix: String

  /// A source named after `op` (`"resize"`), numbered uniquely within the enclosing
  /// `FreshDimNumbering.scoped` call on this thread (one conversion), else in this process.
  init(_ op: String) {
    let counter = Thread.current.threadDictionary[FreshDimNumbering.key] as? InstanceCounter ?? DataDependentDims.counter
    prefix = Dim.unknownPrefix + op + "\(counter.next())_"
  }

  /// The fresh dim for output position `position`; the same position gives the same dim.
  func dim(_ position: Int) -> Dim { .symbol(prefix + "\(position)") }
}

/// Numbers the fresh data-dependent dims of one conversion from 1, so a model's plan does not
/// depend on what else the process converted before or beside it (a batch converts several
/// models in one process, on several threads).
public enum FreshDimNumbering {
  static let key = "attnc.fresh-dim-numbering"

  /// Runs `body` with fresh dims numbered from 1 on this thread (restoring any outer numbering).
  public static func scoped<T>(_ body: () throws -> T) rethrows -> T {
    let dictionary = Thread.current.threadDictionary
    let outer = dictionary[key]
    dictionary[key] = InstanceCounter()
    defer { dictionary[key] = outer }
    return try body()
  }
}

/// A counter, safe to call from any thread.
final class InstanceCounter: @unchecked Sendable {
  private let lock = NSLock()
  private var value = 0

  func next() -> Int {
    lock.lock()
    defer { lock.unlock() }
    value += 1
    return value
  }
}
