import AttncKernels
import Foundation

/// The process-wide settings a command makes before it works: the threads of attnc's pool (its
/// loops and the GEMMs it splits), OpenBLAS's own threads, and the environment OpenBLAS should
/// be loaded with. Front ends call these instead of reaching into the kernels.
public enum ProcessSetup {
  /// Cores this process may run on.
  public static var cores: Int { Parallel.cores }

  /// Threads attnc's pool has now.
  public static var threads: Int { Parallel.threads }

  /// Sets attnc's pool to `requested` threads, at most `cores` (OpenBLAS then runs on one
  /// thread inside the parts the pool splits), and returns the threads it now has.
  /// Call before running, not from inside a parallel loop.
  @discardableResult
  public static func configureThreads(_ requested: Int) -> Int {
    Parallel.configure(threads: requested)
  }

  /// Gives OpenBLAS `count` threads of its own (at least 1) for callers that run several plans
  /// at once on their own threads, attnc's pool staying as it is.
  public static func setBLASThreads(_ count: Int) {
    AttncKernels.setBLASThreads(count)
  }

  /// The environment variables to set (name to value) before OpenBLAS is loaded again: a faster
  /// core when it fell back to slow kernels on a CPU that has fast ones, and a short idle spin
  /// for its worker threads (`BLASCore.environment`); empty when the current environment
  /// already has them.
  public static func blasEnvironmentChanges() -> [String: String] {
    BLASCore.environment(current: BLASCore.current, flags: BLASCore.cpuFlags(), environment: ProcessInfo.processInfo.environment)
  }
}
