import AttncTensor

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Finds the bytes of tensors whose data lives in files beside the model (`external_data`).
///
/// Only files inside the model's folder are read: a location that is empty, absolute, contains a
/// `..` component, or leads outside the folder through symlinks is refused. Each file is mapped
/// once (cached by its resolved path) and tensors borrow the mapping without copying. Copies of a
/// resolver share its cache.
public struct ExternalDataResolver: Sendable {
  /// The folder locations are relative to (the folder holding the .onnx file).
  public let modelDirectory: String
  private let cache = MappingCache()

  /// - Parameter modelDirectory: the folder holding the .onnx file.
  public init(modelDirectory: String) {
    self.modelDirectory = modelDirectory
  }

  /// The `elementCount` elements of `dtype` that `tensor`'s external data points at.
  ///
  /// Reads the `location`, `offset` (default 0) and `length` (default: the size of the elements)
  /// entries; `checksum` and unknown keys are ignored.
  /// - Returns: storage of exactly `dtype.byteCount(elements: elementCount)` bytes that borrows
  ///   the file's mapping.
  /// - Throws: `AttncError` naming the tensor and location: `.invalidModel` for a refused location
  ///   ("external data location '/etc/passwd' of tensor 'w' is an absolute path", "... escapes the
  ///   model's folder"), a bad offset or length, a range past the end of the file ("external data
  ///   of tensor 'w' needs bytes 0..<4096 but 'weights.bin' has 100 bytes") or a length that is not
  ///   the tensor's size; `.io` for a missing or unreadable file; `.unsupported` for strings.
  public func load(_ tensor: OnnxTensor, dtype: DType, elementCount: Int) throws -> ByteStorage {
    let name = tensor.name
    var location = ""
    var offsetText: String?
    var lengthText: String?
    for entry in tensor.externalData {
      switch entry.key {
      case "location": location = entry.value
      case "offset": offsetText = entry.value
      case "length": lengthText = entry.value
      default: break
      }
    }
    guard dtype != .string else {
      throw AttncError.unsupported("string tensor '\(name)' stores its data externally")
    }
    let file = try open(location, tensor: name)

    let offset = try number(offsetText, key: "offset", tensor: name) ?? 0
    let expected = dtype.byteCount(elements: elementCount)
    let length = try number(lengthText, key: "length", tensor: name) ?? expected
    let (end, overflow) = offset.addingReportingOverflow(length)
    guard !overflow, end <= file.count else {
      let range = overflow ? "\(offset)..<(\(offset) + \(length))" : "\(offset)..<\(end)"
      throw AttncError.invalid(
        "external data of tensor '\(name)' needs bytes \(range) but '\(location)' has "
          + "\(file.count) bytes")
    }
    guard length == expected else {
      throw AttncError.invalid(
        "external data of tensor '\(name)' has length \(length) but its \(elementCount) "
          + "\(dtype) elements need \(expected) bytes")
    }
    return file.storage(offset: offset, length: length)
  }

  /// Checks `location` and maps the file it names.
  private func open(_ location: String, tensor name: String) throws -> MappedFile {
    func refuse(_ reason: String) -> AttncError {
      AttncError.invalid("external data location '\(location)' of tensor '\(name)' \(reason)")
    }
    guard !location.isEmpty else { throw refuse("is empty") }
    guard !location.hasPrefix("/") else { throw refuse("is an absolute path") }
    guard !location.split(separator: "/").contains("..") else {
      throw refuse("escapes the model's folder")
    }
    let folder = try resolve(modelDirectory) { reason in
      AttncError(.io, "model folder '\(modelDirectory)' cannot be resolved: \(reason)")
    }
    let joined =
      modelDirectory.hasSuffix("/")
      ? modelDirectory + location
      : modelDirectory + "/" + location
    let path = try resolve(joined) { reason in
      AttncError(
        .io, "external data file '\(joined)' of tensor '\(name)' cannot be read: \(reason)")
    }
    let inside = folder == "/" ? path.hasPrefix("/") : path.hasPrefix(folder + "/")
    guard inside else { throw refuse("escapes the model's folder") }
    return try withContext("external data of tensor '\(name)'") { try cache.file(at: path) }
  }

  /// `path` with symlinks, `.` and `..` resolved (realpath), or `failure(strerror)`.
  private func resolve(_ path: String, failure: (String) -> AttncError) throws -> String {
    guard let resolved = realpath(path, nil) else {
      throw failure(String(cString: strerror(errno)))
    }
    defer { free(resolved) }
    return String(cString: resolved)
  }

  /// A non-negative decimal entry, or nil when absent.
  private func number(_ text: String?, key: String, tensor name: String) throws -> Int? {
    guard let text else { return nil }
    guard let value = Int(text), value >= 0 else {
      throw AttncError.invalid("external data of tensor '\(name)' has an invalid \(key) '\(text)'")
    }
    return value
  }
}

/// Mapped files by resolved path, shared by copies of a resolver; guarded by a mutex.
private final class MappingCache: @unchecked Sendable {
  private var files: [String: MappedFile] = [:]
  private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)

  init() { pthread_mutex_init(mutex, nil) }

  deinit {
    pthread_mutex_destroy(mutex)
    mutex.deallocate()
  }

  /// The mapping of `path`, opening it on first use.
  func file(at path: String) throws -> MappedFile {
    pthread_mutex_lock(mutex)
    defer { pthread_mutex_unlock(mutex) }
    if let file = files[path] { return file }
    let file = try MappedFile(path: path)
    files[path] = file
    return file
  }
}
