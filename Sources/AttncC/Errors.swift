import AttncTensor
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The C status of an error: 0 is success, then `AttncError.Code` in declaration order (the
/// `attnc_status` values of include/attnc.h).
enum CStatus {
  static let ok: Int32 = 0
  static let codes: [AttncError.Code] = [.invalidModel, .unsupported, .io, .usage, .verification, .batchFailure]

  static func status(_ code: AttncError.Code) -> Int32 { Int32(codes.firstIndex(of: code)! + 1) }

  /// Runs `body`; a thrown error becomes this thread's last error and its status.
  static func guarded(_ body: () throws -> Void) -> Int32 {
    do {
      try body()
      return ok
    } catch let error as AttncError {
      LastError.set("\(error)")
      return status(error.code)
    } catch {
      LastError.set("\(error)")
      return status(.invalidModel)
    }
  }
}

/// The message of each thread's last failure, as a C string owned by that thread's slot.
enum LastError {
  private final class Message {
    let text: UnsafeMutablePointer<CChar>
    init(_ string: String) { text = strdup(string)! }
    deinit { free(text) }
  }

  private static let key = "attnc.lastError"

  static func set(_ message: String) {
    Thread.current.threadDictionary[key] = Message(message)
  }

  static var current: UnsafePointer<CChar>? {
    (Thread.current.threadDictionary[key] as? Message).map { UnsafePointer($0.text) }
  }
}

/// Copies `text` into memory the caller frees with `attnc_string_free`.
func cString(_ text: String) -> UnsafeMutablePointer<CChar> { strdup(text)! }

@_cdecl("attnc_last_error")
public func c_attnc_last_error() -> UnsafePointer<CChar> {
  LastError.current ?? Version.empty
}

@_cdecl("attnc_version")
public func c_attnc_version() -> UnsafePointer<CChar> { Version.text }

@_cdecl("attnc_string_free")
public func c_attnc_string_free(_ text: UnsafeMutablePointer<CChar>?) { free(text) }

/// Static strings handed out for the life of the process.
enum Version {
  nonisolated(unsafe) static let text = UnsafePointer(strdup(AttncBuild.version)!)
  nonisolated(unsafe) static let empty = UnsafePointer(strdup("")!)
}
