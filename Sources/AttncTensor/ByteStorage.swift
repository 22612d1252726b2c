#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// An immutable run of bytes, owned (heap) or borrowed from a memory-mapped file that it keeps
/// mapped for as long as it lives.
public final class ByteStorage: @unchecked Sendable {
  /// Start of the bytes; valid for the lifetime of this object.
  public let base: UnsafeRawPointer
  /// Number of bytes.
  public let count: Int
  private let owner: AnyObject?
  private let heap: UnsafeMutableRawPointer?

  /// Copies `bytes` into new heap storage.
  public convenience init(copying bytes: UnsafeRawBufferPointer) {
    self.init(heapBytes: bytes.count) { Self.copy(bytes, to: $0) }
  }

  /// Copies an array's bytes.
  public convenience init(_ bytes: [UInt8]) {
    self.init(heapBytes: bytes.count) { memory in bytes.withUnsafeBytes { Self.copy($0, to: memory) } }
  }

  /// Zero-filled storage of `count` bytes.
  public convenience init(zeros size: Int) {
    self.init(heapBytes: size) { $0.initializeMemory(as: UInt8.self, repeating: 0, count: max(size, 1)) }
  }

  /// `size` bytes of new 64-byte aligned heap memory (at least one allocated), which `fill`
  /// initializes.
  private init(heapBytes size: Int, _ fill: (UnsafeMutableRawPointer) -> Void) {
    let memory = UnsafeMutableRawPointer.allocate(byteCount: max(size, 1), alignment: 64)
    fill(memory)
    base = UnsafeRawPointer(memory)
    count = size
    heap = memory
    owner = nil
  }

  private static func copy(_ bytes: UnsafeRawBufferPointer, to memory: UnsafeMutableRawPointer) {
    if let source = bytes.baseAddress, bytes.count > 0 { memory.copyMemory(from: source, byteCount: bytes.count) }
  }

  /// Borrows `count` bytes at `base`, keeping `owner` (for example a `MappedFile`) alive.
  public init(borrowing base: UnsafeRawPointer, count: Int, owner: AnyObject) {
    self.base = base
    self.count = count
    self.owner = owner
    heap = nil
  }

  /// Builds storage by writing into a fresh zeroed buffer of `count` bytes.
  public static func build(count: Int, _ body: (UnsafeMutableRawBufferPointer) -> Void)
    -> ByteStorage
  {
    let storage = ByteStorage(zeros: count)
    if let heap = storage.heap {
      body(UnsafeMutableRawBufferPointer(start: heap, count: count))
    }
    return storage
  }

  deinit { heap?.deallocate() }

  /// The bytes as a buffer.
  public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}

/// A read-only memory mapping of a whole file; unmapped on deinit.
public final class MappedFile: @unchecked Sendable {
  /// Start of the mapping (nil for an empty file).
  public let base: UnsafeRawPointer?
  /// File size in bytes.
  public let count: Int
  /// The path it was opened from.
  public let path: String

  /// Maps `path` read-only.
  /// - Throws: `AttncError` (`.io`) naming the path and the errno text.
  public init(path: String) throws {
    self.path = path
    let fd = open(path, O_RDONLY)
    guard fd >= 0 else {
      throw AttncError(.io, "cannot open '\(path)': \(String(cString: strerror(errno)))")
    }
    defer { close(fd) }
    var info = stat()
    guard fstat(fd, &info) == 0 else {
      throw AttncError(.io, "cannot stat '\(path)': \(String(cString: strerror(errno)))")
    }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      throw AttncError(.io, "'\(path)' is a directory, not a file")
    }
    count = Int(info.st_size)
    if count == 0 {
      base = nil
      return
    }
    let address = mmap(nil, count, PROT_READ, MAP_PRIVATE, fd, 0)
    guard let address, address != MAP_FAILED else {
      throw AttncError(.io, "cannot map '\(path)': \(String(cString: strerror(errno)))")
    }
    base = UnsafeRawPointer(address)
  }

  deinit {
    if let base { munmap(UnsafeMutableRawPointer(mutating: base), count) }
  }

  /// The whole file as bytes.
  public var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }

  /// A storage view of `length` bytes at `offset`, keeping the mapping alive.
  /// - Precondition: the range lies within the file (callers check and throw first).
  public func storage(offset: Int, length: Int) -> ByteStorage {
    precondition(offset >= 0 && length >= 0 && offset <= count - length, "range outside mapping")
    guard let base else { return ByteStorage(zeros: 0) }
    return ByteStorage(borrowing: base + offset, count: length, owner: self)
  }
}
