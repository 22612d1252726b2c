import ArgumentParser
import AttncKit
import AttncTensor
import Foundation

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

/// Sets the thread pool for `--threads requested`, saying so on stderr when that is more than
/// the cores this machine has (the pool then keeps to the cores).
func configureThreads(_ requested: Int) {
  let used = ProcessSetup.configureThreads(requested)
  if used < requested {
    FileHandleOutput.standardError(
      "attnc: --threads \(requested) is more than the \(ProcessSetup.cores) cores here; running on \(used)\n")
  }
}

/// Writes to stderr without buffering surprises.
enum FileHandleOutput {
  static func standardError(_ text: String) {
    fputs(text, stderr)
  }
}

/// Re-executes this process once with OpenBLAS's environment set
/// (`ProcessSetup.blasEnvironmentChanges`): a faster core when it fell back to slow kernels on a
/// CPU that has fast ones, and a short idle spin for its worker threads. On failure the process
/// goes on with OpenBLAS as loaded.
func configureBLAS() {
  let changes = ProcessSetup.blasEnvironmentChanges()
  guard !changes.isEmpty else { return }
  for (name, value) in changes { setenv(name, value, 1) }
  execv("/proc/self/exe", CommandLine.unsafeArgv)
}

/// Keeps freed tensor buffers inside the process: without this, glibc returns every large
/// buffer to the kernel on free and the next kernel's output page-faults it back in (measured
/// on bert_mini at sequence 512: an elementwise Mul over 12.6 MB took 9 ms instead of 4).
func keepFreedMemory() {
  // <malloc.h>: M_TRIM_THRESHOLD = -1, M_MMAP_THRESHOLD = -3 (32 MiB is glibc's maximum).
  _ = glibcMallopt(-3, 32 << 20)
  _ = glibcMallopt(-1, Int32.max)
}

/// glibc's `mallopt` (not exported by the Glibc module).
@_silgen_name("mallopt") func glibcMallopt(_ parameter: Int32, _ value: Int32) -> Int32

configureBLAS()
keepFreedMemory()
exit(runAttnc())
