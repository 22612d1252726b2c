import AttncTensor

extension OnnxTensor {
  /// The tensor's elements as a `HostTensor`, packed little-endian as `raw_data` lays them out.
  ///
  /// Reads whichever of `raw_data`, the typed fields and external data holds the elements. Typed
  /// fields follow the ONNX rules: `float_data` holds FLOAT and COMPLEX64 (two values per
  /// element); `int32_data` holds INT32 and every narrower type as bit patterns, one element per
  /// value for 8- and 16-bit types, one packed byte (two 4-bit or four 2-bit elements) per value
  /// for sub-byte types; `int64_data` INT64; `double_data` DOUBLE and COMPLEX128 (two per
  /// element); `uint64_data` UINT32 and UINT64; `string_data` STRING.
  ///
  /// The declared dims are checked against the data actually present before anything is
  /// allocated, so a file cannot make attnc reserve memory it does not back with bytes.
  /// - Parameter externalData: resolves external data; nil refuses tensors that use it.
  /// - Returns: a tensor of `DType(onnx: dataType)` and shape `dims`; external data is borrowed
  ///   from the file's mapping, other payloads are copied.
  /// - Throws: `AttncError` naming the tensor, e.g. "tensor 'w': dims [4, 4] of float32 need 64
  ///   bytes but raw_data has 60", "tensor 'w' has no data", or a data type or field mismatch.
  public func hostTensor(externalData: ExternalDataResolver?) throws -> HostTensor {
    let label = "tensor '\(name)'"
    let dtype: DType
    do {
      dtype = try DType(onnx: dataType)
    } catch let error as AttncError {
      throw AttncError(error.code, "\(label): \(error.message)")
    }
    guard segment == nil else {
      throw AttncError.unsupported("\(label) is stored in segments, which attnc does not read")
    }
    let shape = try checkedShape(label: label)
    let count = shape.reduce(1, *)  // checked not to overflow
    let bytes = dtype.byteCount(elements: count)
    guard bytes < Int.max else {
      throw AttncError.invalid("\(label): dims \(dims) of \(dtype) overflow the byte count")
    }
    let described = "\(label): dims \(dims) of \(dtype)"

    if dataLocationExternal || (!self.externalData.isEmpty && payload.isEmpty) {
      guard let externalData else {
        throw AttncError.invalid(
          "\(label) stores its data externally, but the model's folder is unknown")
      }
      let storage = try externalData.load(self, dtype: dtype, elementCount: count)
      return try HostTensor(dtype: dtype, shape: shape, storage: storage)
    }

    /// The elements of a typed field: the field must hold `dtype` and `expected` values, each
    /// stored as `convert` gives it.
    func typed<Value, Bits: FixedWidthInteger>(
      _ values: [Value], _ field: String, holds types: Set<DType>, expected: Int, _ convert: (Value) -> Bits
    ) throws -> HostTensor {
      try expect(types.contains(dtype), field: field, dtype: dtype, label: label)
      try expect(count: expected, values: values.count, field: field, described: described)
      return try HostTensor(dtype: dtype, shape: shape, storage: pack(values, convert))
    }

    switch payload {
    case .none, .raw([]):
      guard count == 0 else { throw AttncError.invalid("\(label) has no data") }
      return try HostTensor(dtype: dtype, shape: shape, storage: ByteStorage(zeros: 0))

    case .raw(let raw):
      guard dtype != .string else {
        throw AttncError.invalid("\(label): string elements cannot be stored in raw_data")
      }
      guard raw.count == bytes else {
        throw AttncError.invalid("\(described) need \(bytes) bytes but raw_data has \(raw.count)")
      }
      return try HostTensor(dtype: dtype, shape: shape, storage: ByteStorage(raw))

    case .strings(let values):
      try expect(dtype == .string, field: "string_data", dtype: dtype, label: label)
      try expect(count: count, values: values.count, field: "string_data", described: described)
      let strings = values.map { String(decoding: $0, as: UTF8.self) }
      return try HostTensor(
        dtype: dtype, shape: shape, storage: ByteStorage(zeros: 0), strings: strings)

    case .floats(let values):
      return try typed(values, "float_data", holds: [.float, .complex64], expected: bytes / 4) { $0.bitPattern }

    case .doubles(let values):
      return try typed(values, "double_data", holds: [.double, .complex128], expected: bytes / 8) { $0.bitPattern }

    case .int64s(let values):
      return try typed(values, "int64_data", holds: [.int64], expected: count) { $0 }

    case .uint64s(let values) where dtype == .uint32:
      return try typed(values, "uint64_data", holds: [.uint32], expected: count) { UInt32(truncatingIfNeeded: $0) }

    case .uint64s(let values):
      return try typed(values, "uint64_data", holds: [.uint64], expected: count) { $0 }

    case .int32s(let values):
      try expect(Self.int32Types.contains(dtype), field: "int32_data", dtype: dtype, label: label)
      // Sub-byte types: one packed byte per value; otherwise one element per value.
      let needed = dtype.bitWidth < 8 ? bytes : count
      try expect(count: needed, values: values.count, field: "int32_data", described: described)
      return try HostTensor(dtype: dtype, shape: shape, storage: packInt32s(values, dtype, count))
    }
  }

  /// Types whose elements `int32_data` carries.
  private static let int32Types: Set<DType> = [
    .int32, .int16, .int8, .uint16, .uint8, .bool, .float16, .bfloat16, .float8e4m3fn,
    .float8e4m3fnuz, .float8e5m2, .float8e5m2fnuz, .float8e8m0, .uint4, .int4, .float4e2m1,
    .uint2, .int2,
  ]

  /// `dims` as Ints, refusing negative dims and element counts that overflow.
  private func checkedShape(label: String) throws -> [Int] {
    var count = 1
    for dim in dims {
      guard dim >= 0 else { throw AttncError.invalid("\(label): dims \(dims) have a negative dim") }
      let (product, overflow) = count.multipliedReportingOverflow(by: Int(truncatingIfNeeded: dim))
      guard !overflow, Int(exactly: dim) != nil else {
        throw AttncError.invalid("\(label): dims \(dims) overflow the element count")
      }
      count = product
    }
    return dims.map { Int(truncatingIfNeeded: $0) }  // each checked above
  }

  private func expect(_ matches: Bool, field: String, dtype: DType, label: String) throws {
    guard matches else {
      throw AttncError.invalid("\(label): \(field) cannot hold \(dtype) elements")
    }
  }

  private func expect(count needed: Int, values: Int, field: String, described: String) throws {
    guard values == needed else {
      throw AttncError.invalid("\(described) need \(needed) values but \(field) has \(values)")
    }
  }

  /// Storage holding `convert(value)` for each value, little-endian.
  private func pack<Value, Bits: FixedWidthInteger>(
    _ values: [Value], _ convert: (Value) -> Bits
  ) -> ByteStorage {
    let width = MemoryLayout<Bits>.size
    return ByteStorage.build(count: values.count * width) { buffer in
      for (index, value) in values.enumerated() {
        buffer.storeBytes(
          of: convert(value).littleEndian, toByteOffset: index * width, as: Bits.self)
      }
    }
  }

  /// `int32_data` values truncated to `dtype`'s width; sub-byte values are already-packed bytes,
  /// whose bits past the last element are cleared.
  private func packInt32s(_ values: [Int32], _ dtype: DType, _ count: Int) -> ByteStorage {
    switch dtype.bitWidth {
    case 32: return pack(values) { $0 }
    case 16: return pack(values) { UInt16(truncatingIfNeeded: $0) }
    case 8: return pack(values) { UInt8(truncatingIfNeeded: $0) }
    default:
      var packed = values.map { UInt8(truncatingIfNeeded: $0) }
      let usedBits = (count * dtype.bitWidth) % 8
      if usedBits != 0, !packed.isEmpty {
        packed[packed.count - 1] &= UInt8((1 << usedBits) - 1)
      }
      return ByteStorage(packed)
    }
  }
}

extension OnnxTensor.Payload {
  /// No element field is set (an empty `raw_data` counts as empty).
  var isEmpty: Bool {
    switch self {
    case .none: true
    case .raw(let bytes): bytes.isEmpty
    default: false
    }
  }
}
