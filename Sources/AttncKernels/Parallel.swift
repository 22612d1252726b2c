import Dispatch

/// attnc's own parallel loops, sharing the `--threads` budget with OpenBLAS: a region either
/// runs GEMMs on OpenBLAS's threads, or splits work over attnc's threads with OpenBLAS set to one
/// thread inside — never both (no oversubscription).
public enum Parallel {
  /// Threads for kernels and OpenBLAS (set once by `configure`).
  nonisolated(unsafe) public private(set) static var threads = 1

  /// Sets the thread budget for OpenBLAS and attnc's loops (call before running).
  public static func configure(threads count: Int) {
    threads = max(1, count)
    setBLASThreads(threads)
  }

  /// Elements per chunk below which a memory-bound elementwise loop stays on one thread (the
  /// wake-up of another thread costs about as much as copying this many floats).
  public static let elementsPerChunk = 32768

  /// Calls `body(range)` for `threads` contiguous chunks of `0..<count`, concurrently.
  /// GEMMs inside `body` run single-threaded for the duration.
  public static func chunks(_ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let parts = min(threads, max(1, count / max(1, minimumPerChunk)))
    guard parts > 1 else {
      body(0..<count)
      return
    }
    setBLASThreads(1)
    defer { setBLASThreads(threads) }
    DispatchQueue.concurrentPerform(iterations: parts) { part in
      let start = count * part / parts, end = count * (part + 1) / parts
      if start < end { body(start..<end) }
    }
  }
}
