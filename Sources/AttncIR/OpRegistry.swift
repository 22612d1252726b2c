import AttncTensor

/// The explicit list of every op attnc knows, keyed by ONNX domain and type.
///
/// Each entry builds the op's definition from its attributes at the model's opset; the
/// definition applies that opset's semantics (Softmax-1/11 coerce to 2-D, Softmax-13 is per axis;
/// Squeeze-11 reads `axes` as an attribute, Squeeze-13 as an input).
public enum OpRegistry {
  /// One registered op type.
  public struct Entry: Sendable {
    public var domain: String
    public var type: String
    /// Oldest opset of the domain this entry implements.
    public var since: Int
    public var make: @Sendable (Attributes, Int) throws -> any Op

    public init(
      _ type: String, domain: String = "", since: Int = 1,
      _ make: @escaping @Sendable (Attributes, Int) throws -> any Op
    ) {
      self.type = type
      self.domain = domain
      self.since = since
      self.make = make
    }

    /// The entry that builds `definition` from a node's attributes.
    public init<Definition: AttributedOp>(
      _ type: String, domain: String = "", since: Int = 1, _ definition: Definition.Type
    ) {
      self.init(type, domain: domain, since: since) { try Definition(attributes: $0, opset: $1) }
    }

    /// One entry per function of an op family (`Binary.Function`: `Add`, `Sub`, …) whose raw
    /// values are the ONNX op types.
    static func family<Function: CaseIterable & RawRepresentable & Sendable>(
      since: Int = 1, _ make: @escaping @Sendable (Function, Attributes, Int) throws -> any Op
    ) -> [Entry] where Function.RawValue == String {
      Function.allCases.map { function in Entry(function.rawValue, since: since) { try make(function, $0, $1) } }
    }
  }

  /// Newest opset per domain this release understands; a model importing a newer one is refused
  /// ("opset 29 of domain 'ai.onnx' is newer than the newest supported, 28").
  public static let newestOpset: [String: Int] = ["": 28, "ai.onnx": 28, "com.microsoft": 1]

  /// Newest ONNX IR version this release reads.
  public static let newestIRVersion = 14

  /// Every registered op, in no particular order (see `Ops/`).
  public static let entries: [Entry] = OpRegistry.standardEntries

  private static let index: [String: Entry] = {
    var map: [String: Entry] = [:]
    for entry in entries { map[key(entry.domain, entry.type)] = entry }
    return map
  }()

  private static func key(_ domain: String, _ type: String) -> String {
    let d = domain == "ai.onnx" ? "" : domain
    return "\(d)::\(type)"
  }

  /// The entry for an op type, if registered.
  public static func entry(domain: String, type: String) -> Entry? { index[key(domain, type)] }

  /// Builds the definition of `type` at `opset`, or `UnsupportedOp` when the type is unknown.
  /// - Throws: attribute errors from the op's initializer, and `.unsupported` when the model's
  ///   opset is older than the oldest version attnc implements.
  public static func make(domain: String, type: String, attributes: Attributes, opset: Int)
    throws -> any Op
  {
    guard let entry = entry(domain: domain, type: type) else {
      return UnsupportedOp(opType: type, domain: domain)
    }
    guard opset >= entry.since else {
      throw AttncError.unsupported(
        "\(type) at opset \(opset) is older than the oldest supported version, \(entry.since)")
    }
    return try entry.make(attributes, opset)
  }
}
