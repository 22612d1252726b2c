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
    switch values[name] {
    case .int(let v)?: return Int(v)
    case nil: if let value { return value }
    default: break
    }
    throw AttncError.invalid("kernel parameter '\(name)' is missing or not an int")
  }

  public func float(_ name: String, default value: Float? = nil) throws -> Float {
    switch values[name] {
    case .float(let v)?: return Float(v)
    case .int(let v)?: return Float(v)
    case nil: if let value { return value }
    default: break
    }
    throw AttncError.invalid("kernel parameter '\(name)' is missing or not a float")
  }

  public func string(_ name: String, default value: String? = nil) throws -> String {
    switch values[name] {
    case .string(let v)?: return v
    case nil: if let value { return value }
    default: break
    }
    throw AttncError.invalid("kernel parameter '\(name)' is missing or not a string")
  }

  public func ints(_ name: String) throws -> [Int]? {
    switch values[name] {
    case .ints(let v)?: return v.map { Int($0) }
    case nil: return nil
    default: throw AttncError.invalid("kernel parameter '\(name)' is not a list of ints")
    }
  }

  public func floats(_ name: String) throws -> [Float]? {
    switch values[name] {
    case .floats(let v)?: return v.map { Float($0) }
    case nil: return nil
    default: throw AttncError.invalid("kernel parameter '\(name)' is not a list of floats")
    }
  }

  public func dims(_ name: String) throws -> [Dim] {
    guard case .dims(let v)? = values[name] else {
      throw AttncError.invalid("kernel parameter '\(name)' is missing or not dims")
    }
    return v
  }
}
