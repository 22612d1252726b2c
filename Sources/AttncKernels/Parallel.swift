import CAttnc
import Foundation

/// attnc's parallel loops and split GEMMs, on one pool of `threads` threads (`attnc_pool_run`):
/// OpenBLAS itself runs on one thread, inside the parts of the GEMMs `gemm` splits, so the pool's
/// workers are the only ones competing for the cores, and a region starts on a worker that is
/// still spinning from the last one instead of waking a sleeping thread.
public enum Parallel {
  /// Threads for kernels and GEMMs (set by `configure`).
  public static var threads: Int { Int(attnc_pool_threads()) }

  /// Cores this process may run on.
  public static var cores: Int { ProcessInfo.processInfo.activeProcessorCount }

  /// Sets the thread budget (call before running, not from inside a parallel loop) and returns
  /// the threads the pool now has: at most `cores`, unless `oversubscribe` (tests), since waiting
  /// parts then hold cores that working ones need (bert_mini at 128 tokens on 2 cores: 14 ms at
  /// 2 threads, 46 ms at 4).
  @discardableResult
  public static func configure(threads count: Int, oversubscribe: Bool = false) -> Int {
    let limit = oversubscribe ? Int(ATTNC_POOL_MAX_THREADS) : min(max(1, cores), Int(ATTNC_POOL_MAX_THREADS))
    attnc_pool_configure(Int32(min(max(1, count), limit)))
    setBLASThreads(1)
    return threads
  }

  /// True inside a part of a parallel loop, where nested loops and GEMMs run on the calling thread.
  public static var isInsideLoop: Bool { attnc_pool_inside() != 0 }

  /// Elements per chunk below which a memory-bound elementwise loop stays on one thread (the
  /// wake-up of another thread costs about as much as copying this many floats).
  public static let elementsPerChunk = 32768

  /// Multiply-adds per chunk below which a product or attention loop stays on one thread (a
  /// few microseconds of work: a region's hand-off costs about as much).
  public static let productsPerChunk = 1 << 16

  /// Parts per thread for the long compute loops (attention query blocks, GEMM rows, convolution
  /// items): the pool hands parts out as threads come free, so when another process takes one of
  /// the cores for a while, the other threads take over its parts instead of waiting for it.
  public static let balancingParts = 4

  /// Calls `body(range)` for contiguous chunks of `0..<count`, concurrently: `threads` chunks, or
  /// up to `threads · partsPerThread` (`balancingParts` for the long loops).
  public static func chunks(_ count: Int, minimumPerChunk: Int = 1, partsPerThread: Int = 1, _ body: (Range<Int>) -> Void) {
    let parts = isInsideLoop ? 1 : min(threads * max(1, partsPerThread), max(1, count / max(1, minimumPerChunk)))
    guard parts > 1 else {
      body(0..<count)
      return
    }
    run(parts: parts) { part in
      let start = count * part / parts, end = count * (part + 1) / parts
      if start < end { body(start..<end) }
    }
  }

  /// Parts per thread for a product split by rows: `balancingParts` while each part keeps 256
  /// rows (each part streams the whole weight once, and short parts end in partial tiles).
  static func balancedParts(rows: Int) -> Int {
    rows >= threads * balancingParts * 256 ? balancingParts : 1
  }

  /// Whether a `rows × n` product splits over the threads by rows (each thread at least 32 rows,
  /// or too few panel pairs to share) rather than by pairs of `panel`-column panels.
  public static func splitsProductByRows(rows: Int, columns n: Int, panel: Int) -> Bool {
    rows / threads >= 32 || (n + 2 * panel - 1) / (2 * panel) < 2
  }

  /// Runs a `rows × n` product (attnc's packed GEMMs) over the threads: `body(rows, columns)`
  /// per part, by rows when `splitsProductByRows`, else by pairs of panels (each thread then
  /// streams only its own columns of the weight); one part on the calling thread when the product
  /// has fewer than `productsPerChunk` multiply-adds. Column ranges start at multiples of `panel`.
  public static func product(rows: Int, columns n: Int, depth: Int, panel: Int, _ body: (Range<Int>, Range<Int>) -> Void) {
    if rows * n * depth < productsPerChunk {
      body(0..<rows, 0..<n)
    } else if splitsProductByRows(rows: rows, columns: n, panel: panel) {
      chunks(rows, minimumPerChunk: 32, partsPerThread: balancedParts(rows: rows)) { range in body(range, 0..<n) }
    } else {
      chunks((n + 2 * panel - 1) / (2 * panel)) { range in
        body(0..<rows, (range.lowerBound * 2 * panel)..<min(n, range.upperBound * 2 * panel))
      }
    }
  }

  /// `product` for operands whose A rows are prepared per call (quantized, rounded):
  /// `prepare(rows)` before `body` reads them. Split by rows, each thread prepares its own rows
  /// and multiplies them without waiting for the others; else every row is prepared first.
  public static func product(
    rows: Int, columns n: Int, depth: Int, panel: Int, preparing prepare: (Range<Int>) -> Void,
    _ body: (Range<Int>, Range<Int>) -> Void
  ) {
    if rows * n * depth >= productsPerChunk && splitsProductByRows(rows: rows, columns: n, panel: panel) {
      chunks(rows, minimumPerChunk: 32, partsPerThread: balancedParts(rows: rows)) { range in
        prepare(range)
        body(range, 0..<n)
      }
    } else {
      prepare(0..<rows)
      product(rows: rows, columns: n, depth: depth, panel: panel, body)
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
