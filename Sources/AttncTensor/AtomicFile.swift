import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes files so that a reader never sees a partial one: a temporary file beside the target,
/// then a rename.
public enum AtomicFile {
  /// Writes `bytes` to `path` through `.<name>.tmp-<pid>` and a rename.
  /// - Throws: `.io` naming the path.
  public static func write(_ bytes: [UInt8], to path: String) throws {
    let url = URL(fileURLWithPath: path)
    let temporary = url.deletingLastPathComponent()
      .appendingPathComponent(".\(url.lastPathComponent).tmp-\(ProcessInfo.processInfo.processIdentifier)")
    do {
      try Data(bytes).write(to: temporary)
      // rename(2) replaces an existing file atomically (Foundation's replaceItemAt fails on
      // Linux when the target exists).
      guard rename(temporary.path, path) == 0 else {
        throw AttncError(.io, String(cString: strerror(errno)))
      }
    } catch let error as AttncError {
      try? FileManager.default.removeItem(at: temporary)
      throw AttncError(.io, "cannot write '\(path)': \(error.message)")
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw AttncError(.io, "cannot write '\(path)': \(error.localizedDescription)")
    }
  }
}
