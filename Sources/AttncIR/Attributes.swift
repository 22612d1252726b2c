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
    try value(name, "an int") { if case .int(let v) = $0 { Int(clamping: v) } else { nil } }
  }

  public func int(_ name: String, default value: Int) throws -> Int { try int(name) ?? value }

  /// A float attribute (an int attribute reads as its value).
  public func float(_ name: String) throws -> Float? {
    try value(name, "a float") {
      switch $0 {
      case .float(let v): v
      case .int(let v): Float(v)
      default: nil
      }
    }
  }

  public func float(_ name: String, default value: Float) throws -> Float {
    try float(name) ?? value
  }

  public func string(_ name: String) throws -> String? {
    try value(name, "a string") { if case .string(let v) = $0 { v } else { nil } }
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

  /// A list of ints (a single int reads as a list of one).
  public func ints(_ name: String) throws -> [Int]? {
    if case .int? = values[name] { return try int(name).map { [$0] } }
    return try value(name, "a list of ints") { if case .ints(let v) = $0 { v.map { Int(clamping: $0) } } else { nil } }
  }

  /// A list of floats (a single float reads as a list of one).
  public func floats(_ name: String) throws -> [Float]? {
    if case .float? = values[name] { return try float(name).map { [$0] } }
    return try value(name, "a list of floats") { if case .floats(let v) = $0 { v } else { nil } }
  }

  /// A list of strings (a single string reads as a list of one).
  public func strings(_ name: String) throws -> [String]? {
    if case .string? = values[name] { return try string(name).map { [$0] } }
    return try value(name, "a list of strings") { if case .strings(let v) = $0 { v } else { nil } }
  }

  public func tensor(_ name: String) throws -> HostTensor? {
    try value(name, "a tensor") { if case .tensor(let v) = $0 { v } else { nil } }
  }

  /// Attribute `name` through `read`; nil when absent.
  /// - Throws: "attribute 'axis' must be an int" when `read` refuses its kind.
  private func value<T>(_ name: String, _ what: String, _ read: (AttributeValue) -> T?) throws -> T? {
    guard let value = values[name] else { return nil }
    guard let result = read(value) else { throw AttncError.invalid("attribute '\(name)' must be \(what)") }
    return result
  }
}
