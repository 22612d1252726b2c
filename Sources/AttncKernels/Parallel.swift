import CAttnc

/// attnc's parallel loops and split GEMMs, on one pool of `threads` threads (`attnc_pool_run`):
/// OpenBLAS itself runs on one thread, inside the parts of the GEMMs `gemm` splits, so the pool's
/// workers are the only ones competing for the cores, and a region starts on a worker that is
/// still spinning from the last one instead of waking a sleeping thread.
public enum Parallel {
  /// Threads for kernels and GEMMs (set by `configure`).
  public static var threads: Int { Int(attnc_pool_threads()) }

  /// Sets the thread budget (call before running, not from inside a parallel loop).
  public static func configure(threads count: Int) {
    attnc_pool_configure(Int32(min(max(1, count), Int(ATTNC_POOL_MAX_THREADS))))
    setBLASThreads(1)
  }

  /// True inside a part of a parallel loop, where nested loops and GEMMs run on the calling thread.
  public static var isInsideLoop: Bool { attnc_pool_inside() != 0 }

  /// Elements per chunk below which a memory-bound elementwise loop stays on one thread (the
  /// wake-up of another thread costs about as much as copying this many floats).
  public static let elementsPerChunk = 32768

  /// Calls `body(range)` for `threads` contiguous chunks of `0..<count`, concurrently.
  public static func chunks(_ count: Int, minimumPerChunk: Int = 1, _ body: (Range<Int>) -> Void) {
    let parts = isInsideLoop ? 1 : min(threads, max(1, count / max(1, minimumPerChunk)))
    guard parts > 1 else {
      body(0..<count)
      return
    }
    run(parts: parts) { part in
      let start = count * part / parts, end = count * (part + 1) / parts
      if start < end { body(start..<end) }
    }
  }

  /// Calls `body(part)` for each part in `0..<parts`, spread over the threads, and returns when
  /// all are done.
  public static func run(parts: Int, _ body: (Int) -> Void) {
    withoutActuallyEscaping(body) { body in
      var context = body
      withUnsafeMutablePointer(to: &context) { pointer in
        attnc_pool_run(Int32(parts), { raw, part in
          raw!.assumingMemoryBound(to: ((Int) -> Void).self).pointee(Int(part))
        }, pointer)
      }
    }
  }
}
