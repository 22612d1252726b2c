import AttncTensor

/// One attribute value of a node, free of protobuf types.
public enum AttributeValue: Sendable {
  case int(Int64)
  case float(Float)
  case string(String)
  case tensor(HostTensor)
  case ints([Int64])
  case floats([Float])
  case strings([String])
  case tensors([HostTensor])
  /// A subgraph (If/Loop/Scan bodies); attnc keeps only its name.
  case graph(String)
  /// An attribute kind attnc reads but does not interpret (type protos, sparse tensors).
  case other(String)
}

/// A node's attributes by name, with typed accessors that apply ONNX defaults and throw
/// "attribute 'axis' must be an int" on the wrong kind.
public struct Attributes: Sendable {
  public var values: [String: AttributeValue]

  public init(_ values: [String: AttributeValue] = [:]) { self.values = values }

  public subscript(name: String) -> AttributeValue? {
    get { values[name] }
    set { values[name] = newValue }
  }

  public func has(_ name: String) -> Bool { values[name] != nil }

  /// Sorted names, for printing.
  public var names: [String] { values.keys.sorted() }

  public func int(_ name: String) throws -> Int? {
    switch values[name] {
    case nil: return nil
    case .int(let v)?: return Int(clamping: v)
    default: throw AttncError.invalid("attribute '\(name)' must be an int")
    }
  }

  public func int(_ name: String, default value: Int) throws -> Int { try int(name) ?? value }

  public func float(_ name: String) throws -> Float? {
    switch values[name] {
    case nil: return nil
    case .float(let v)?: return v
    case .int(let v)?: return Float(v)
    default: throw AttncError.invalid("attribute '\(name)' must be a float")
    }
  }

  public func float(_ name: String, default value: Float) throws -> Float {
    try float(name) ?? value
  }

  public func string(_ name: String) throws -> String? {
    switch values[name] {
    case nil: return nil
    case .string(let v)?: return v
    default: throw AttncError.invalid("attribute '\(name)' must be a string")
    }
  }

  public func string(_ name: String, default value: String) throws -> String {
    try string(name) ?? value
  }

  /// A string attribute naming one case of `E` (ONNX's enumerated attributes: `round_mode`,
  /// `reduction`), `value` when absent.
  /// - Throws: "round_mode 'sideways' is not one of up, down, nearest".
  public func choice<E: RawRepresentable & CaseIterable>(_ name: String, default value: E) throws -> E
  where E.RawValue == String {
    guard let text = try string(name) else { return value }
    guard let chosen = E(rawValue: text) else {
      throw AttncError.invalid("\(name) '\(text)' is not one of \(E.allCases.map(\.rawValue).joined(separator: ", "))")
    }
    return chosen
  }

  public func ints(_ name: String) throws -> [Int]? {
    switch values[name] {
    case nil: return nil
    case .ints(let v)?: return v.map { Int(clamping: $0) }
    case .int(let v)?: return [Int(clamping: v)]
    default: throw AttncError.invalid("attribute '\(name)' must be a list of ints")
    }
  }

  public func floats(_ name: String) throws -> [Float]? {
    switch values[name] {
    case nil: return nil
    case .floats(let v)?: return v
    case .float(let v)?: return [v]
    default: throw AttncError.invalid("attribute '\(name)' must be a list of floats")
    }
  }

  public func strings(_ name: String) throws -> [String]? {
    switch values[name] {
    case nil: return nil
    case .strings(let v)?: return v
    case .string(let v)?: return [v]
    default: throw AttncError.invalid("attribute '\(name)' must be a list of strings")
    }
  }

  public func tensor(_ name: String) throws -> HostTensor? {
    switch values[name] {
    case nil: return nil
    case .tensor(let v)?: return v
    default: throw AttncError.invalid("attribute '\(name)' must be a tensor")
    }
  }
}
