import AttncTensor
import Foundation

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
      if FileManager.default.fileExists(atPath: path) {
        _ = try FileManager.default.replaceItemAt(url, withItemAt: temporary)
      } else {
        try FileManager.default.moveItem(at: temporary, to: url)
      }
    } catch {
      try? FileManager.default.removeItem(at: temporary)
      throw AttncError(.io, "cannot write '\(path)': \(error.localizedDescription)")
    }
  }
}
