/// Element type of a tensor: every ONNX `TensorProto.DataType`, raw values as in the ONNX IR spec.
///
/// Compute is float32: 16-bit and 8-bit floats are widened on load. Packed sub-byte types
/// (`int4`, `uint4`, `float4e2m1`, `int2`, `uint2`) store several elements per byte, low bits first.
public enum DType: Int32, Sendable, Hashable, CaseIterable, Codable, CustomStringConvertible {
  case float = 1
  case uint8 = 2
  case int8 = 3
  case uint16 = 4
  case int16 = 5
  case int32 = 6
  case int64 = 7
  case string = 8
  case bool = 9
  case float16 = 10
  case double = 11
  case uint32 = 12
  case uint64 = 13
  case complex64 = 14
  case complex128 = 15
  case bfloat16 = 16
  case float8e4m3fn = 17
  case float8e4m3fnuz = 18
  case float8e5m2 = 19
  case float8e5m2fnuz = 20
  case uint4 = 21
  case int4 = 22
  case float4e2m1 = 23
  case float8e8m0 = 24
  case uint2 = 25
  case int2 = 26

  /// The ONNX data type number, or throws naming the unknown number.
  public init(onnx raw: Int32) throws {
    guard let type = DType(rawValue: raw) else {
      if raw == 0 { throw AttncError.invalid("tensor data type is UNDEFINED (0)") }
      throw AttncError.unsupported("unknown tensor data type \(raw)")
    }
    self = type
  }

  /// The lowercase ONNX-style name (`float`, `int64`, `bfloat16`, `float8e4m3fn`, …).
  public var description: String {
    switch self {
    case .float: "float32"
    case .double: "float64"
    default: "\(name)"
    }
  }

  private var name: String {
    switch self {
    case .float: "float"
    case .uint8: "uint8"
    case .int8: "int8"
    case .uint16: "uint16"
    case .int16: "int16"
    case .int32: "int32"
    case .int64: "int64"
    case .string: "string"
    case .bool: "bool"
    case .float16: "float16"
    case .double: "double"
    case .uint32: "uint32"
    case .uint64: "uint64"
    case .complex64: "complex64"
    case .complex128: "complex128"
    case .bfloat16: "bfloat16"
    case .float8e4m3fn: "float8e4m3fn"
    case .float8e4m3fnuz: "float8e4m3fnuz"
    case .float8e5m2: "float8e5m2"
    case .float8e5m2fnuz: "float8e5m2fnuz"
    case .uint4: "uint4"
    case .int4: "int4"
    case .float4e2m1: "float4e2m1"
    case .float8e8m0: "float8e8m0"
    case .uint2: "uint2"
    case .int2: "int2"
    }
  }

  /// Storage width of one element in bits (strings: 0, they are stored out of line).
  public var bitWidth: Int {
    switch self {
    case .string: 0
    case .int2, .uint2: 2
    case .int4, .uint4, .float4e2m1: 4
    case .bool, .int8, .uint8, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz,
      .float8e8m0:
      8
    case .int16, .uint16, .float16, .bfloat16: 16
    case .int32, .uint32, .float: 32
    case .int64, .uint64, .double, .complex64: 64
    case .complex128: 128
    }
  }

  /// Bytes needed to store `count` packed elements (rounded up for sub-byte types).
  public func byteCount(elements count: Int) -> Int {
    let (bits, overflow) = count.multipliedReportingOverflow(by: bitWidth)
    return overflow ? Int.max : (bits + 7) / 8
  }

  /// Floating-point types, including the 8- and 4-bit float formats.
  public var isFloatingPoint: Bool {
    switch self {
    case .float, .double, .float16, .bfloat16, .float8e4m3fn, .float8e4m3fnuz, .float8e5m2,
      .float8e5m2fnuz, .float4e2m1, .float8e8m0:
      true
    default: false
    }
  }

  /// Integer types, signed or not (not bool).
  public var isInteger: Bool {
    switch self {
    case .int2, .int4, .int8, .int16, .int32, .int64, .uint2, .uint4, .uint8, .uint16, .uint32,
      .uint64:
      true
    default: false
    }
  }

  /// Signed integer types.
  public var isSignedInteger: Bool {
    switch self {
    case .int2, .int4, .int8, .int16, .int32, .int64: true
    default: false
    }
  }
}
