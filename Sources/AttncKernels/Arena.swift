import AttncTensor
import Foundation

/// One block of memory, 64-byte aligned, that a run's planned values live in at fixed offsets.
/// Regions keep it alive, so a value that escapes a run stays readable (the next run uses a new
/// arena).
public final class Arena: @unchecked Sendable {
  public static let alignment = 64
  public let bytes: Int
  let base: UnsafeMutableRawPointer

  /// - Throws: when the memory cannot be had.
  public init(bytes: Int) throws {
    self.bytes = bytes
    var pointer: UnsafeMutableRawPointer?
    guard posix_memalign(&pointer, Arena.alignment, max(bytes, Arena.alignment)) == 0, let pointer else {
      throw AttncError.invalid("cannot allocate a \(bytes)-byte arena")
    }
    base = pointer
  }

  deinit { free(base) }

  /// `count` floats at byte `offset`.
  public func region(offset: Int, count: Int) -> FloatBuffer {
    precondition(offset >= 0 && offset % Arena.alignment == 0 && offset + count * 4 <= bytes, "arena region out of bounds")
    return FloatBuffer(region: ArenaRegion(arena: self, start: (base + offset).assumingMemoryBound(to: Float.self), count: count))
  }

  /// The byte offset of `buffer`'s elements in this arena, or nil when they are elsewhere.
  public func offset(of buffer: FloatBuffer) -> Int? {
    guard let start = buffer.regionStart, buffer.region?.arena === self else { return nil }
    return UnsafeMutableRawPointer(start) - base
  }
}

/// Where a `FloatBuffer`'s elements are in an arena. A new one is made for every kernel output,
/// so "uniquely referenced" means "only this buffer writes here".
final class ArenaRegion: @unchecked Sendable {
  let arena: Arena
  let start: UnsafeMutablePointer<Float>
  let count: Int

  init(arena: Arena, start: UnsafeMutablePointer<Float>, count: Int) {
    self.arena = arena
    self.start = start
    self.count = count
  }
}
