@testable import AttncCost
import AttncKernels
@testable import AttncKit
import AttncTensor
import Foundation
import Testing

/// The cost model's numerical parts: the non-negative least-squares fit, the weight fit on
/// timings, the dispatch table's text form, `--layers` parsing.
struct CostModelMathTests {
  /// Brute force: the best least-squares fit over every subset of columns whose unconstrained
  /// solution is non-negative (the plain definition of the NNLS optimum).
  static func bruteForce(_ rows: [[Double]], _ b: [Double]) -> (x: [Double], residual: Double) {
    let columns = rows[0].count
    var best: ([Double], Double) = ([Double](repeating: 0, count: columns), b.reduce(0) { $0 + $1 * $1 })
    for mask in 1..<(1 << columns) {
      let set = (0..<columns).filter { mask & (1 << $0) != 0 }
      // Normal equations by Gaussian elimination.
      var m = set.map { i in set.map { j in zip(rows, b).reduce(0.0) { $0 + $1.0[i] * $1.0[j] } } + [zip(rows, b).reduce(0.0) { $0 + $1.0[i] * $1.1 }] }
      var singular = false
      for p in set.indices {
        guard let pivot = (p..<set.count).max(by: { abs(m[$0][p]) < abs(m[$1][p]) }), abs(m[pivot][p]) > 1e-12 else { singular = true; break }
        m.swapAt(p, pivot)
        for r in set.indices where r != p {
          let f = m[r][p] / m[p][p]
          for c in p...set.count { m[r][c] -= f * m[p][c] }
        }
      }
      if singular { continue }
      let z = set.indices.map { m[$0][set.count] / m[$0][$0] }
      guard z.allSatisfy({ $0 >= 0 }) else { continue }
      var x = [Double](repeating: 0, count: columns)
      for (k, j) in set.enumerated() { x[j] = z[k] }
      let residual = zip(rows, b).reduce(0.0) { sum, pair in
        let r = pair.1 - zip(pair.0, x).reduce(0) { $0 + $1.0 * $1.1 }
        return sum + r * r
      }
      if residual < best.1 { best = (x, residual) }
    }
    return best
  }

  @Test func nnlsMatchesTheBruteForceOptimum() {
    var generator = SplitMix(seed: 42)
    for trial in 0..<40 {
      let rows = (0..<12).map { _ in (0..<4).map { _ in Double(generator.normal()) + (trial % 2 == 0 ? 1.5 : 0) } }
      let b = (0..<12).map { _ in Double(generator.normal()) + 1 }
      let x = NonNegativeLeastSquares.solve(rows: rows, targets: b)
      let reference = Self.bruteForce(rows, b)
      #expect(x.allSatisfy { $0 >= 0 })
      let residual = zip(rows, b).reduce(0.0) { sum, pair in
        let r = pair.1 - zip(pair.0, x).reduce(0) { $0 + $1.0 * $1.1 }
        return sum + r * r
      }
      #expect(abs(residual - reference.residual) <= 1e-9 * max(1, reference.residual), "trial \(trial)")
    }
  }

  @Test func nnlsRecoversExactNonNegativeWeights() {
    let truth = [2.0, 0.0, 0.5, 3.0]
    var generator = SplitMix(seed: 7)
    let rows = (0..<9).map { _ in (0..<4).map { _ in abs(Double(generator.normal())) } }
    let b = rows.map { zip($0, truth).reduce(0) { $0 + $1.0 * $1.1 } }
    let x = NonNegativeLeastSquares.solve(rows: rows, targets: b)
    for (got, want) in zip(x, truth) { #expect(abs(got - want) < 1e-9) }
  }

  @Test func nnlsZeroesAWeightThatWouldGoNegative() {
    // b = 1·col0 − 1·col1: the best non-negative fit drops col1.
    let rows = [[1.0, 0.5], [2.0, 0.1], [3.0, 2.0], [1.0, 1.0]]
    let b = rows.map { $0[0] - $0[1] }
    let x = NonNegativeLeastSquares.solve(rows: rows, targets: b)
    #expect(x[1] == 0)
    #expect(x[0] > 0)
  }

  @Test func weightFitPredictsTheTimingsItWasFittedOn() {
    // Timings that are exactly 3·gemm term + 2·overhead: the fit finds them (relative error 0).
    let samples = (1...6).map { i -> (features: [Double], seconds: Double) in
      let features = [Double(i * i) * 1e-3, Double(i) * 1e-4, Double(i) * 2e-4, 1e-5]
      return (features, 3 * features[0] + 2 * features[3])
    }
    let fit = MachineCalibration.fit(samples)
    #expect(abs(fit.medianRatio - 1) < 1e-6)
    #expect(fit.worstRatio < 1 + 1e-6)
  }

  @Test func dispatchTableTextRoundTripsAndPicksByLength() throws {
    let table = try AttentionDispatch(parsing: "1-2047:softmax 2048-:performer:m=64,seed=7")
    #expect(table.description == "1-2047:softmax 2048-:performer:m=64,seed=7")
    #expect(table.variant(forKeys: 1) == "softmax")
    #expect(table.variant(forKeys: 2047) == "softmax")
    #expect(table.variant(forKeys: 2048) == "performer:m=64,seed=7")
    #expect(table.variant(forKeys: 1 << 20) == "performer:m=64,seed=7")
    let merged = try AttentionDispatch([.init(minimumKeys: 1, variant: "softmax"), .init(minimumKeys: 10, variant: "softmax")])
    #expect(merged.entries.count == 1)
    for bad in ["", "2-:softmax", "1-10:softmax 12-:performer", "1-10:softmax", "1-:bogus", "1-5:softmax 6-:performer:q=1", "x-:softmax"] {
      #expect(throws: AttncError.self, "\(bad)") { try AttentionDispatch(parsing: bad) }
    }
  }

  @Test func kernelParametersFollowTheDispatchTable() throws {
    let parameters: [String: KernelParameter] = ["variant": .string("softmax"), "dispatch": .string("1-99:softmax 100-:fastmax:p=1")]
    #expect(try AttentionVariants.of(kernelParameters: parameters, keys: 50).0.name == "softmax")
    let long = try AttentionVariants.of(kernelParameters: parameters, keys: 100)
    #expect(long.0.name == "fastmax" && long.1.int("p") == 1)
    #expect(try AttentionVariants.of(kernelParameters: parameters).0.name == "softmax")
  }

  @Test func layerOverridesKeepVariantCommasAndLastEntryWins() throws {
    let overrides = try LayerOverrides(parsing: "0-3:scatterbrain:w=32,m=16,4-:softmax,2:performer")
    #expect(overrides.entries.count == 3)
    #expect(overrides.variant(for: 0) == "scatterbrain:w=32,m=16")
    #expect(overrides.variant(for: 2) == "performer")
    #expect(overrides.variant(for: 3) == "scatterbrain:w=32,m=16")
    #expect(overrides.variant(for: 40) == "softmax")
    for bad in ["performer", "0-:bogus", "3-1:softmax", "a-:softmax", "0:performer:k=2"] {
      #expect(throws: AttncError.self, "\(bad)") { try LayerOverrides(parsing: bad) }
    }
  }
}
