/// A tensor with concrete dims and its elements in host memory: weights, constants, folded values.
///
/// Elements are stored packed and little-endian in `storage` exactly as ONNX `raw_data` lays them
/// out (sub-byte types low bits first); strings are kept in `strings`. The typed accessors widen
/// or convert elements for computation.
public struct HostTensor: Sendable, CustomStringConvertible {
  public var dtype: DType
  public var shape: [Int]
  public var storage: ByteStorage
  /// Elements of a `.string` tensor (empty for every other dtype).
  public var strings: [String]

  /// Wraps `storage`; throws if its length does not match `shape` and `dtype`.
  public init(dtype: DType, shape: [Int], storage: ByteStorage, strings: [String] = []) throws {
    let count = try HostTensor.elementCount(shape)
    if dtype == .string {
      guard strings.count == count else {
        throw AttncError.invalid(
          "string tensor has \(strings.count) elements but its dims \(shape) need \(count)")
      }
    } else {
      let expected = dtype.byteCount(elements: count)
      guard storage.count == expected else {
        throw AttncError.invalid(
          "data has \(storage.count) bytes but dims \(shape) of \(dtype) need \(expected)")
      }
    }
    self.dtype = dtype
    self.shape = shape
    self.storage = storage
    self.strings = strings
  }

  /// Product of `shape`, throwing on negative dims or overflow.
  public static func elementCount(_ shape: [Int]) throws -> Int {
    var count = 1
    for dim in shape {
      guard dim >= 0 else { throw AttncError.invalid("negative dim \(dim) in \(shape)") }
      let (product, overflow) = count.multipliedReportingOverflow(by: dim)
      guard !overflow else { throw AttncError.invalid("dims \(shape) overflow the element count") }
      count = product
    }
    return count
  }

  /// Number of elements.
  public var count: Int { shape.reduce(1, *) }
  public var rank: Int { shape.count }

  public var description: String { "\(dtype)\(shape)" }

  // MARK: - Construction from Swift arrays

  /// A tensor of a fixed-width Swift scalar type.
  public static func of<T: BitwiseCopyable>(_ dtype: DType, _ values: [T], shape: [Int]) -> HostTensor {
    precondition(dtype.bitWidth == MemoryLayout<T>.size * 8, "element size mismatch")
    precondition(values.count == shape.reduce(1, *), "element count mismatch")
    let storage = values.withUnsafeBytes { ByteStorage(copying: $0) }
    // Cannot fail: sizes checked above.
    return HostTensor(unchecked: dtype, shape: shape, storage: storage)
  }

  init(unchecked dtype: DType, shape: [Int], storage: ByteStorage, strings: [String] = []) {
    self.dtype = dtype
    self.shape = shape
    self.storage = storage
    self.strings = strings
  }

  public init(floats: [Float], shape: [Int]) { self = .of(.float, floats, shape: shape) }
  public init(int64s: [Int64], shape: [Int]) { self = .of(.int64, int64s, shape: shape) }
  public init(doubles: [Double], shape: [Int]) { self = .of(.double, doubles, shape: shape) }
  public init(bools: [Bool], shape: [Int]) {
    self = .of(.bool, bools.map { UInt8($0 ? 1 : 0) }, shape: shape)
  }
  public init(strings: [String], shape: [Int]) {
    self.init(unchecked: .string, shape: shape, storage: ByteStorage(zeros: 0), strings: strings)
  }

  /// Builds a tensor of `dtype` from doubles, converting each element with `Element.pack`'s
  /// defaults (round to nearest even; out of range becomes infinity, or NaN in the 8-bit float
  /// formats without one).
  public init(dtype: DType, shape: [Int], converting values: [Double]) {
    precondition(values.count == shape.reduce(1, *), "element count mismatch")
    let bytes = Element.pack(values, as: dtype)
    self.init(unchecked: dtype, shape: shape, storage: ByteStorage(bytes))
  }

  /// Builds a tensor of an integer or bool `dtype` from Int64s (wrapping like a C cast).
  public init(dtype: DType, shape: [Int], integers values: [Int64]) {
    precondition(values.count == shape.reduce(1, *), "element count mismatch")
    let bytes = Element.pack(integers: values, as: dtype)
    self.init(unchecked: dtype, shape: shape, storage: ByteStorage(bytes))
  }

  // MARK: - Typed reads

  /// Every element as `Double` (bool as 0/1; integers exactly up to 2^53).
  public func doubles() -> [Double] { Element.unpackDoubles(storage.bytes, dtype, count: count) }

  /// Every element as `Float`.
  public func floats() -> [Float] { doubles().map { Float($0) } }

  /// Every element as `Int64` (floats truncated toward zero; bool 0/1).
  public func int64s() -> [Int64] { Element.unpackIntegers(storage.bytes, dtype, count: count) }

  /// The single element of a one-element tensor as Int64, or nil.
  public var scalarInt: Int64? { count == 1 ? int64s().first : nil }
  /// The single element of a one-element tensor as Double, or nil.
  public var scalarDouble: Double? { count == 1 ? doubles().first : nil }

  /// Same elements with a new shape of equal element count.
  public func reshaped(_ newShape: [Int]) -> HostTensor {
    precondition(newShape.reduce(1, *) == count, "reshape changes element count")
    return HostTensor(unchecked: dtype, shape: newShape, storage: storage, strings: strings)
  }
}
