import AttncTensor
import Foundation

/// NumPy `.npy` files (format 1.0–3.0, C order, little-endian), for `attnc run` inputs and outputs.
public enum NPY {
  static let descriptors: [(String, DType)] = [
    ("<f4", .float), ("<f8", .double), ("<f2", .float16), ("<i8", .int64), ("<i4", .int32),
    ("<i2", .int16), ("|i1", .int8), ("|u1", .uint8), ("<u2", .uint16), ("<u4", .uint32),
    ("<u8", .uint64), ("|b1", .bool),
  ]

  /// Reads a `.npy` file.
  /// - Throws: `AttncError` naming the file: bad magic, unsupported dtype, Fortran order, short data.
  public static func read(_ path: String) throws -> HostTensor {
    try withContext(path) {
      let file = try MappedFile(path: path)
      let bytes = file.bytes
      guard bytes.count >= 10, Array(bytes[0..<6]) == [0x93] + Array("NUMPY".utf8) else {
        throw AttncError.invalid("not a .npy file (bad magic)")
      }
      let major = bytes[6]
      let headerLength: Int
      let headerStart: Int
      if major == 1 {
        headerLength = Int(bytes[8]) | Int(bytes[9]) << 8
        headerStart = 10
      } else {
        guard bytes.count >= 12 else { throw AttncError.invalid("truncated .npy header") }
        headerLength = (0..<4).reduce(0) { $0 | Int(bytes[8 + $1]) << (8 * $1) }
        headerStart = 12
      }
      guard headerStart + headerLength <= bytes.count else { throw AttncError.invalid("truncated .npy header") }
      let header = String(decoding: bytes[headerStart..<(headerStart + headerLength)], as: UTF8.self)
      guard let descr = value(of: "descr", in: header)?.trimmingCharacters(in: CharacterSet(charactersIn: "'\" ")),
        let dtype = descriptors.first(where: { $0.0 == descr || $0.0.dropFirst() == descr.dropFirst() && descr.first == "=" })?.1
      else { throw AttncError.unsupported("unsupported .npy dtype in header \(header.trimmingCharacters(in: .whitespacesAndNewlines))") }
      if value(of: "fortran_order", in: header)?.contains("True") == true {
        throw AttncError.unsupported("Fortran-order .npy arrays are not supported")
      }
      guard let shapeText = header.range(of: "(").flatMap({ open in header[open.upperBound...].range(of: ")").map { header[open.upperBound..<$0.lowerBound] } }) else {
        throw AttncError.invalid("no shape in .npy header")
      }
      let shape = try shapeText.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }.map { text -> Int in
        guard let d = Int(text), d >= 0 else { throw AttncError.invalid("bad dim '\(text)' in .npy shape") }
        return d
      }
      let count = try HostTensor.elementCount(shape)
      let size = dtype.byteCount(elements: count)
      let start = headerStart + headerLength
      guard bytes.count - start >= size else {
        throw AttncError.invalid("data has \(bytes.count - start) bytes but shape \(shape) of \(dtype) needs \(size)")
      }
      return try HostTensor(dtype: dtype, shape: shape, storage: file.storage(offset: start, length: size))
    }
  }

  static func value(of key: String, in header: String) -> String? {
    guard let range = header.range(of: "'\(key)':") else { return nil }
    let rest = header[range.upperBound...]
    let end = rest.firstIndex(of: ",") ?? rest.endIndex
    return String(rest[..<end])
  }

  /// The bytes of a `.npy` (format 1.0) file holding `tensor`.
  public static func encode(_ tensor: HostTensor) throws -> [UInt8] {
    guard let descr = descriptors.first(where: { $0.1 == tensor.dtype })?.0 else {
      throw AttncError.unsupported(".npy has no dtype for \(tensor.dtype)")
    }
    let shape = tensor.shape.count == 1 ? "(\(tensor.shape[0]),)" : "(\(tensor.shape.map(String.init).joined(separator: ", ")))"
    var header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': \(shape), }"
    let total = 10 + header.utf8.count + 1
    header += String(repeating: " ", count: (64 - total % 64) % 64) + "\n"
    var bytes: [UInt8] = [0x93] + Array("NUMPY".utf8) + [1, 0]
    bytes += [UInt8(header.utf8.count & 0xFF), UInt8(header.utf8.count >> 8)]
    bytes += Array(header.utf8)
    bytes += Array(tensor.storage.bytes)
    return bytes
  }
}
