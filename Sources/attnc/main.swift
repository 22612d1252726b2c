import ArgumentParser
import AttncTensor

#if canImport(Glibc)
  import Glibc
#endif

/// Parses the command line, runs it, and maps failures to the exit codes of the CLI contract:
/// 0 ok, 1 verification failure, 2 bad input or usage (argument-parser's own 64 becomes 2).
func runAttnc() -> Int32 {
  do {
    var command = try Attnc.parseAsRoot()
    try command.run()
    return 0
  } catch let error as AttncError {
    FileHandleOutput.standardError("error: \(error)\n")
    return error.code.exitStatus
  } catch {
    let code = Attnc.exitCode(for: error)
    let message = Attnc.fullMessage(for: error)
    if code == .success {
      if !message.isEmpty { print(message) }
      return 0
    }
    if !message.isEmpty { FileHandleOutput.standardError(message + "\n") }
    return code == .validationFailure || code.rawValue == 64 ? 2 : 2
  }
}

/// Writes to stderr without buffering surprises.
enum FileHandleOutput {
  static func standardError(_ text: String) {
    fputs(text, stderr)
  }
}

exit(runAttnc())
