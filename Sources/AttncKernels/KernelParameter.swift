import AttncTensor

/// A parameter of a kernel call, as stored in the plan.
public enum KernelParameter: Sendable, Equatable {
  case int(Int64)
  case float(Double)
  case string(String)
  case ints([Int64])
  case floats([Double])
  case dims([Dim])
}

/// Typed reads of a kernel's parameters; a missing or mistyped one is a corrupt plan.
public struct KernelParameters: Sendable {
  public var values: [String: KernelParameter]

  public init(_ values: [String: KernelParameter]) { self.values = values }

  public func int(_ name: String, default value: Int? = nil) throws -> Int {
    try read(name, "an int", default: value) { if case .int(let v) = $0 { Int(v) } else { nil } }
  }

  /// A float parameter rounded to `Float` (an int parameter reads as its value).
  public func float(_ name: String, default value: Float? = nil) throws -> Float {
    try read(name, "a float", default: value) { Self.number($0).map { Float($0) } }
  }

  /// A float parameter at full precision (an int parameter reads as its value).
  public func double(_ name: String) throws -> Double {
    try read(name, "a float", default: nil) { Self.number($0) }
  }

  public func string(_ name: String, default value: String? = nil) throws -> String {
    try read(name, "a string", default: value) { if case .string(let v) = $0 { v } else { nil } }
  }

  /// A list of ints, nil when absent.
  /// - Throws: "kernel parameter 'perm' is not a list of ints" when it holds something else.
  public func ints(_ name: String) throws -> [Int]? {
    try list(name, "ints") { if case .ints(let v) = $0 { v.map { Int($0) } } else { nil } }
  }

  /// A list of floats rounded to `Float`, nil when absent.
  public func floats(_ name: String) throws -> [Float]? {
    try list(name, "floats") { if case .floats(let v) = $0 { v.map { Float($0) } } else { nil } }
  }

  public func dims(_ name: String) throws -> [Dim] {
    try read(name, "dims", default: nil) { if case .dims(let v) = $0 { v } else { nil } }
  }

  /// Parameter `name` through `extract`, or `value` when it is absent.
  /// - Throws: "kernel parameter 'axis' is missing or not an int".
  private func read<T>(
    _ name: String, _ what: String, default value: T?, _ extract: (KernelParameter) -> T?
  ) throws -> T {
    if let parameter = values[name] {
      if let result = extract(parameter) { return result }
    } else if let value {
      return value
    }
    throw Self.missing(name, what)
  }

  /// Parameter `name` through `extract`, nil when it is absent.
  private func list<T>(_ name: String, _ what: String, _ extract: (KernelParameter) -> T?) throws -> T? {
    guard let parameter = values[name] else { return nil }
    guard let result = extract(parameter) else {
      throw AttncError.invalid("kernel parameter '\(name)' is not a list of \(what)")
    }
    return result
  }

  private static func number(_ parameter: KernelParameter) -> Double? {
    switch parameter {
    case .float(let v): v
    case .int(let v): Double(v)
    default: nil
    }
  }

  /// "kernel parameter 'axis' is missing or not an int".
  static func missing(_ name: String, _ what: String) -> AttncError {
    AttncError.invalid("kernel parameter '\(name)' is missing or not \(what)")
  }
}
