import AttncTensor

/// A kernel call whose plan parameters are its stored fields, each stated once.
///
/// Codable's synthesized conformance lists the fields; `KernelParameterEncoder` turns them into
/// the plan's `[String: KernelParameter]` and `KernelParameterDecoder` reads them back, so a call
/// type needs neither `parameters` nor `init(name:parameters:)`. A field's plan name is its
/// Swift name unless `CodingKeys` renames it (`case coerce2D = "coerce2d"`).
///
/// - Field types: those conforming to `KernelParameterValue` (`Int`, `Float`, `Double`, `Bool`
///   as int 0/1, `String`, `DType` as its ONNX number, `[Int]`, `[Double]`, `[Dim]`, `String`
///   enums), an `Optional` of one (no parameter when nil), or a nested `Codable` struct, whose
///   fields join the call's own (`ConvolutionGeometry`, an options struct).
/// - The key `name` is the kernel's name, which the plan stores beside the parameters: a call
///   family (`BinaryCall`: `Add`, `Sub`, …) keeps it in a stored `name` field; it is never
///   written as a parameter.
///
/// Calls with an encoding of their own (derived or conditional parameters) conform to
/// `KernelCall` directly and write both halves by hand.
public protocol CodableKernelCall: KernelCall, Codable {}

extension CodableKernelCall {
  public init(name: String, parameters: KernelParameters) throws {
    try self.init(from: KernelParameterDecoder(name: name, parameters: parameters))
  }

  public var parameters: [String: KernelParameter] { KernelParameterEncoder.parameters(of: self) }
}

/// A type a `CodableKernelCall` field may have, and how the plan stores it.
public protocol KernelParameterValue: Codable {
  /// The plan's encoding.
  var kernelParameter: KernelParameter { get }

  /// Reads parameter `key`.
  /// - Throws: "kernel parameter 'axis' is missing or not an int".
  static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> Self
}

extension Int: KernelParameterValue {
  public var kernelParameter: KernelParameter { .int(Int64(self)) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> Int { try parameters.int(key) }
}

extension Bool: KernelParameterValue {
  /// The plan's encoding of a flag: int 1 or 0 (any non-zero int reads as true).
  var parameter: KernelParameter { kernelParameter }
  public var kernelParameter: KernelParameter { .int(self ? 1 : 0) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> Bool { try parameters.int(key) != 0 }
}

extension Float: KernelParameterValue {
  public var kernelParameter: KernelParameter { .float(Double(self)) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> Float { try parameters.float(key) }
}

extension Double: KernelParameterValue {
  public var kernelParameter: KernelParameter { .float(self) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> Double { try parameters.double(key) }
}

extension String: KernelParameterValue {
  public var kernelParameter: KernelParameter { .string(self) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> String { try parameters.string(key) }
}

extension DType: KernelParameterValue {
  /// The ONNX element type number.
  public var kernelParameter: KernelParameter { .int(Int64(rawValue)) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> DType {
    try DType(onnx: Int32(clamping: try parameters.int(key)))
  }
}

extension KernelParameterValue where Self: RawRepresentable, RawValue == String {
  /// A `String` enum is stored as its raw value.
  public var kernelParameter: KernelParameter { .string(rawValue) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> Self {
    let text = try parameters.string(key)
    guard let value = Self(rawValue: text) else {
      throw AttncError.invalid("kernel parameter '\(key)' has an unknown value '\(text)'")
    }
    return value
  }
}

extension NarrowFloat.Rounding: KernelParameterValue {}

/// An element type of a list parameter.
public protocol KernelParameterElement: Codable {
  static func kernelParameter(list: [Self]) -> KernelParameter
  static func kernelParameterList(_ key: String, in parameters: KernelParameters) throws -> [Self]
}

extension Array: KernelParameterValue where Element: KernelParameterElement {
  public var kernelParameter: KernelParameter { Element.kernelParameter(list: self) }
  public static func kernelParameter(_ key: String, in parameters: KernelParameters) throws -> [Element] {
    try Element.kernelParameterList(key, in: parameters)
  }
}

extension Int: KernelParameterElement {
  public static func kernelParameter(list: [Int]) -> KernelParameter { .ints(list.map { Int64($0) }) }
  public static func kernelParameterList(_ key: String, in parameters: KernelParameters) throws -> [Int] {
    guard let list = try parameters.ints(key) else { throw KernelParameters.missing(key, "a list of ints") }
    return list
  }
}

extension Double: KernelParameterElement {
  public static func kernelParameter(list: [Double]) -> KernelParameter { .floats(list) }
  public static func kernelParameterList(_ key: String, in parameters: KernelParameters) throws -> [Double] {
    guard case .floats(let list)? = parameters.values[key] else { throw KernelParameters.missing(key, "a list of floats") }
    return list
  }
}

extension Dim: KernelParameterElement {
  public static func kernelParameter(list: [Dim]) -> KernelParameter { .dims(list) }
  public static func kernelParameterList(_ key: String, in parameters: KernelParameters) throws -> [Dim] {
    try parameters.dims(key)
  }
}

// MARK: - Encoder

/// Writes a `CodableKernelCall`'s fields as plan parameters.
struct KernelParameterEncoder: Encoder {
  /// The parameters written so far, shared by nested structs' encoders.
  final class Storage {
    var values: [String: KernelParameter] = [:]
  }

  let storage: Storage
  var codingPath: [any CodingKey] { [] }
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  /// The parameters of `call`. Every field type is checked by the tests' plan round trips, so a
  /// type the plan cannot store is a programming error.
  static func parameters(of call: some Encodable) -> [String: KernelParameter] {
    let encoder = KernelParameterEncoder(storage: Storage())
    do {
      try call.encode(to: encoder)
    } catch {
      preconditionFailure("\(type(of: call)) has a field a plan cannot store: \(error)")
    }
    return encoder.storage.values
  }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedEncodingContainer<Key> {
    KeyedEncodingContainer(Container<Key>(storage: storage))
  }

  func unkeyedContainer() -> any UnkeyedEncodingContainer { preconditionFailure("kernel parameters are keyed") }
  func singleValueContainer() -> any SingleValueEncodingContainer { preconditionFailure("kernel parameters are keyed") }

  struct Container<Key: CodingKey>: KeyedEncodingContainerProtocol {
    let storage: Storage
    var codingPath: [any CodingKey] { [] }

    mutating func encode<T: Encodable>(_ value: T, forKey key: Key) throws { try put(value, key) }
    mutating func encodeNil(forKey key: Key) throws {}
    mutating func encode(_ value: Bool, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: String, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Double, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Float, forKey key: Key) throws { try put(value, key) }
    mutating func encode(_ value: Int, forKey key: Key) throws { try put(value, key) }

    /// A value the plan stores becomes one parameter; a nested struct writes its own fields.
    private func put<T: Encodable>(_ value: T, _ key: Key) throws {
      if key.stringValue == "name" { return }  // the kernel's name, stored beside the parameters
      if let value = value as? any KernelParameterValue {
        storage.values[key.stringValue] = value.kernelParameter
      } else {
        try value.encode(to: KernelParameterEncoder(storage: storage))
      }
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy keyType: NestedKey.Type, forKey key: Key)
      -> KeyedEncodingContainer<NestedKey>
    {
      KeyedEncodingContainer(Container<NestedKey>(storage: storage))
    }

    func nestedUnkeyedContainer(forKey key: Key) -> any UnkeyedEncodingContainer {
      preconditionFailure("kernel parameters are keyed")
    }
    func superEncoder() -> any Encoder { KernelParameterEncoder(storage: storage) }
    func superEncoder(forKey key: Key) -> any Encoder { KernelParameterEncoder(storage: storage) }
  }
}

// MARK: - Decoder

/// Reads a `CodableKernelCall`'s fields from plan parameters.
struct KernelParameterDecoder: Decoder {
  /// The kernel's name (what the key `name` reads).
  let name: String
  let parameters: KernelParameters
  var codingPath: [any CodingKey] { [] }
  var userInfo: [CodingUserInfoKey: Any] { [:] }

  func container<Key: CodingKey>(keyedBy type: Key.Type) -> KeyedDecodingContainer<Key> {
    KeyedDecodingContainer(Container<Key>(decoder: self))
  }

  func unkeyedContainer() throws -> any UnkeyedDecodingContainer { throw Self.notKeyed }
  func singleValueContainer() throws -> any SingleValueDecodingContainer { throw Self.notKeyed }
  static let notKeyed = AttncError.invalid("kernel parameters are keyed")

  struct Container<Key: CodingKey>: KeyedDecodingContainerProtocol {
    let decoder: KernelParameterDecoder
    var codingPath: [any CodingKey] { [] }
    var allKeys: [Key] { decoder.parameters.values.keys.compactMap { Key(stringValue: $0) } }

    func contains(_ key: Key) -> Bool { key.stringValue == "name" || decoder.parameters.values[key.stringValue] != nil }
    func decodeNil(forKey key: Key) throws -> Bool { !contains(key) }

    func decode<T: Decodable>(_ type: T.Type, forKey key: Key) throws -> T { try take(type, key) }
    func decode(_ type: Bool.Type, forKey key: Key) throws -> Bool { try take(type, key) }
    func decode(_ type: String.Type, forKey key: Key) throws -> String { try take(type, key) }
    func decode(_ type: Double.Type, forKey key: Key) throws -> Double { try take(type, key) }
    func decode(_ type: Float.Type, forKey key: Key) throws -> Float { try take(type, key) }
    func decode(_ type: Int.Type, forKey key: Key) throws -> Int { try take(type, key) }

    /// One parameter as a value the plan stores, or a nested struct from the same parameters.
    private func take<T: Decodable>(_ type: T.Type, _ key: Key) throws -> T {
      if key.stringValue == "name", let name = decoder.name as? T { return name }
      guard let valueType = type as? any KernelParameterValue.Type else { return try T(from: decoder) }
      guard let value = try valueType.kernelParameter(key.stringValue, in: decoder.parameters) as? T else {
        throw AttncError.invalid("kernel parameter '\(key.stringValue)' has the wrong type")
      }
      return value
    }

    func nestedContainer<NestedKey: CodingKey>(keyedBy type: NestedKey.Type, forKey key: Key)
      -> KeyedDecodingContainer<NestedKey>
    {
      KeyedDecodingContainer(Container<NestedKey>(decoder: decoder))
    }

    func nestedUnkeyedContainer(forKey key: Key) throws -> any UnkeyedDecodingContainer { throw KernelParameterDecoder.notKeyed }
    func superDecoder() -> any Decoder { decoder }
    func superDecoder(forKey key: Key) -> any Decoder { decoder }
  }
}
