@testable import AttncKernels
import AttncTensor
import Dispatch
import Foundation
import Synchronization
import Testing

/// The thread pool (`Parallel`, `attnc_pool_run`) and the GEMMs it splits (`gemm`), run with
/// three threads (more than the CI machine's cores, allowed here) so that the workers, the
/// caller's share and uneven parts are all exercised.
@Suite(.serialized) struct ParallelTests {
  /// Counts added from any thread.
  final class Tally: Sendable {
    let counts: Mutex<[Int]>
    init(_ count: Int) { counts = Mutex([Int](repeating: 0, count: count)) }
    func add(_ amount: Int, at index: Int) { counts.withLock { $0[index] += amount } }
    var values: [Int] { counts.withLock { $0 } }
  }

  /// Runs `body` with the pool at `threads` threads, then puts the old count back.
  func withThreads(_ threads: Int, _ body: () throws -> Void) rethrows {
    let previous = Parallel.threads
    Parallel.configure(threads: threads, oversubscribe: true)
    defer { Parallel.configure(threads: previous, oversubscribe: true) }
    try body()
  }

  @Test func threadsStayWithinTheCoresUnlessAsked() {
    withThreads(1) {
      #expect(Parallel.configure(threads: Parallel.cores + 1) == Parallel.cores)
      #expect(Parallel.configure(threads: Parallel.cores + 1, oversubscribe: true) == Parallel.cores + 1)
      #expect(Parallel.configure(threads: 0) == 1)
    }
  }

  @Test func everyPartRunsOnceAndNestedLoopsRunInline() {
    withThreads(3) {
      for parts in 1...8 {
        let counts = Tally(parts), nested = Tally(1)
        Parallel.run(parts: parts) { part in
          counts.add(1, at: part)
          // A loop inside a part runs on that thread, whole.
          #expect(Parallel.isInsideLoop)
          Parallel.chunks(10) { range in nested.add(range.count, at: 0) }
        }
        #expect(counts.values == [Int](repeating: 1, count: parts))
        #expect(nested.values == [10 * parts])
        #expect(!Parallel.isInsideLoop)
      }
    }
  }

  @Test func loopsFromSeveralThreadsAtOnceAllFinish() {
    withThreads(2) {
      // One caller gets the workers; the others run their parts themselves.
      let totals = Tally(4)
      DispatchQueue.concurrentPerform(iterations: 4) { caller in
        for _ in 0..<200 {
          Parallel.chunks(1000) { range in totals.add(range.count, at: caller) }
        }
      }
      #expect(totals.values == [Int](repeating: 200_000, count: 4))
    }
  }

  @Test func splitBoundsCoverTheProductOnAlignedEdges() {
    withThreads(3) {
      for (m, n, k) in [(128, 384, 384), (2048, 384, 1536), (128, 1000, 64), (4000, 40, 64), (8, 8, 8)] {
        let parts = gemmParts(m: m, n: n, k: k)
        let ranges = (0..<parts.count).map(parts.bounds)
        #expect(ranges.first?.lowerBound == 0 && ranges.last?.upperBound == (parts.byColumns ? n : m))
        for (left, right) in zip(ranges, ranges.dropFirst()) {
          #expect(left.upperBound == right.lowerBound && left.upperBound % parts.step == 0)
        }
        #expect(parts.byColumns == (m <= n))
        #expect(parts.count == (m * n * k < splitVolume ? 1 : 3))
      }
    }
  }

  /// A split product (by rows and by columns, each operand transposed or not, β = 0 and 1)
  /// against the same product on one thread.
  @Test(arguments: [(100, 300, 129), (333, 70, 96), (128, 384, 384), (37, 1000, 17)])
  func splitProductMatchesOneThread(m: Int, n: Int, k: Int) {
    var generator = SystemRandomNumberGenerator()
    let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
    let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &generator) }
    let start = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &generator) }
    for transposeA in [false, true] {
      for transposeB in [false, true] {
        for beta: Float in [0, 1] {
          func product() -> [Float] {
            var c = start
            c.withUnsafeMutableBufferPointer { c in
              gemm(
                m: m, n: n, k: k, alpha: 0.5, a, transposeA: transposeA, b, transposeB: transposeB, beta: beta,
                into: c.baseAddress!)
            }
            return c
          }
          let serial = product()
          var split: [Float] = []
          withThreads(3) {
            #expect(gemmParts(m: m, n: n, k: k).count > 1)
            split = product()
          }
          let worst = zip(serial, split).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 0
          #expect(worst < 1e-5, "m \(m) n \(n) k \(k) transposeA \(transposeA) transposeB \(transposeB) beta \(beta)")
        }
      }
    }
  }

  /// A linear layer's fused epilogue (bias, residual, a per-row column, GELU) applied by each
  /// thread to the block of the split product it computed, against the same call on one thread.
  @Test(arguments: [(100, 300, 64), (333, 70, 96)])
  func fusedEpilogueOnSplitBlocksMatchesOneThread(m: Int, n: Int, k: Int) throws {
    var generator = SystemRandomNumberGenerator()
    func random(_ shape: [Int]) -> Tensor {
      .float((0..<shape.reduce(1, *)).map { _ in Float.random(in: -1...1, using: &generator) }, shape)
    }
    let a = random([1, m, k]), b = random([k, n])
    let addends = [random([n]), random([1, m, n]), random([m, 1])]
    for activation in ["none", "gelu", "gelu_tanh"] {
      let serial = try LinearAlgebra.fusedMatMul(a, b, addends: addends, alpha: 0.5, activation: activation)
      var split: Tensor?
      try withThreads(3) {
        #expect(gemmParts(m: m, n: n, k: k).count == 3)
        split = try LinearAlgebra.fusedMatMul(a, b, addends: addends, alpha: 0.5, activation: activation)
      }
      let worst = zip(serial.floats, split?.floats ?? []).map { abs($0 - $1) / max(1, abs($0)) }.max() ?? 1
      #expect(split?.shape == [1, m, n] && worst < 1e-5, "\(activation): \(worst)")
    }
  }

  /// The packed GEMM split over threads by rows (m ≥ 32 per thread) and by pairs of panels
  /// (fewer rows), and a long input past `PackedGemm.rowLimit` (unpacked, through OpenBLAS),
  /// against the plain product.
  @Test func packedProductOverThreadsAndLongInputs() throws {
    var generator = SystemRandomNumberGenerator()
    let (k, n) = (48, 200)
    let b = (0..<(k * n)).map { _ in Float.random(in: -1...1, using: &generator) }
    let bias = (0..<n).map { _ in Float.random(in: -1...1, using: &generator) }
    for m in [8, 200, PackedGemm.rowLimit + 5] {
      let a = (0..<(m * k)).map { _ in Float.random(in: -1...1, using: &generator) }
      let residual = (0..<(m * n)).map { _ in Float.random(in: -1...1, using: &generator) }
      var y: Tensor?
      try withThreads(3) {
        y = try PackedGemm.multiply(
          .float(a, [1, m, k]), packed: PackedGemmTests.packed(b, k: k, n: n), columns: n,
          addends: [.float(residual, [1, m, n]), .float(bias, [n])], alpha: 2, activation: "gelu")
      }
      let expected = PackedGemmTests.reference(
        a, b, rows: m, k: k, n: n, alpha: 2, addends: [(residual, n, 1), (bias, 0, 1)], activation: "gelu")
      let worst = zip(y?.floats ?? [], expected).map { abs(Double($0) - $1) / max(1, abs($1)) }.max() ?? 1
      #expect(y?.shape == [1, m, n] && worst < 1e-5, "m \(m): \(worst)")
    }
  }
}
