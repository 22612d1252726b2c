import AttncKernels
import CAttnc
import Foundation
import Testing

/// The vectorised transcendental functions against Foundation's double-precision ones.
@Suite struct VectorMathTests {
  /// -30…30 in steps of 1/64, plus the edges of exp's range and special values.
  static let grid: [Float] = (-1920...1920).map { Float($0) / 64 } + [-88, -87.3, 88.7, 89, 1e-7, -1e-7, 0]

  func run(_ f: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, Int) -> Void, _ x: [Float]) -> [Float] {
    var y = [Float](repeating: 0, count: x.count)
    x.withUnsafeBufferPointer { source in
      y.withUnsafeMutableBufferPointer { target in f(source.baseAddress!, target.baseAddress!, x.count) }
    }
    return y
  }

  /// `attnc_store_strided` writes `x + add` (through Swift's `max(·, 0)` under relu: NaN kept, −0
  /// to +0) to every `step`-th output and nothing between (another phase's outputs), for lengths
  /// around the 8-wide vector steps.
  @Test(arguments: [1, 2, 3])
  func stridedStoreWritesOnlyItsOutputs(_ step: Int) {
    for relu in [false, true] {
      for n in [0, 1, 7, 8, 9, 16, 37] {
        var x = (0..<n).map { Float($0) * 0.75 - 2 }
        if n > 5 { (x[3], x[5]) = (.nan, -0.5) }
        let sentinel: Float = 1234.5
        var y = [Float](repeating: sentinel, count: max(1, n * step + step))
        attnc_store_strided(x, n, 0.5, relu ? 1 : 0, &y, step)
        for (i, value) in y.enumerated() {
          guard i % step == 0, i / step < n else {
            #expect(value == sentinel, "step \(step) n \(n): output \(i) written")
            continue
          }
          let v = x[i / step] + 0.5, expected = relu ? max(v, 0) : v
          #expect(value.bitPattern == expected.bitPattern || (value.isNaN && expected.isNaN), "step \(step) n \(n) relu \(relu): \(i)")
        }
      }
    }
  }

  @Test func expWithinTwoUlp() {
    let y = run({ VectorMath.exp($0, into: $1, count: $2) }, Self.grid)
    for (x, value) in zip(Self.grid, y) {
      let exact = Foundation.exp(Double(x))
      if exact < Double(Float.leastNormalMagnitude) {
        #expect(value >= 0 && Double(value) <= 2 * Double(Float.leastNormalMagnitude), "exp(\(x)) = \(value)")
      } else if exact > Double(Float.greatestFiniteMagnitude) {
        #expect(value == .infinity, "exp(\(x)) = \(value)")
      } else {
        #expect(abs(Double(value) - exact) <= 2 * Double(Float(exact).ulp), "exp(\(x)) = \(value), exact \(exact)")
      }
    }
  }

  @Test func erfAndTanhWithinThreeTenMillionths() {
    let erfs = run({ VectorMath.erf($0, into: $1, count: $2) }, Self.grid)
    let tanhs = run({ VectorMath.tanh($0, into: $1, count: $2) }, Self.grid)
    for (i, x) in Self.grid.enumerated() {
      #expect(abs(Double(erfs[i]) - Foundation.erf(Double(x))) <= 3e-7, "erf(\(x)) = \(erfs[i])")
      #expect(abs(Double(tanhs[i]) - Foundation.tanh(Double(x))) <= 3e-7, "tanh(\(x)) = \(tanhs[i])")
    }
  }

  @Test func specialValuesPropagate() {
    let special: [Float] = [.nan, .infinity, -.infinity]
    let exps = run({ VectorMath.exp($0, into: $1, count: $2) }, special)
    #expect(exps[0].isNaN && exps[1] == .infinity && exps[2] == 0)
    let erfs = run({ VectorMath.erf($0, into: $1, count: $2) }, special)
    #expect(erfs[0].isNaN && erfs[1] == 1 && erfs[2] == -1)
    let tanhs = run({ VectorMath.tanh($0, into: $1, count: $2) }, special)
    #expect(tanhs[0].isNaN && tanhs[1] == 1 && tanhs[2] == -1)
  }

  @Test(arguments: [1, 7, 8, 9, 33, 512])
  func softmaxRowMatchesDefinition(length: Int) {
    var row = (0..<length).map { Float(sin(Double($0) * 1.7)) * 20 }
    let reference: [Double] = {
      let top = row.map(Double.init).max() ?? 0
      let e = row.map { Foundation.exp(Double($0) - top) }
      let sum = e.reduce(0, +)
      return e.map { $0 / sum }
    }()
    row.withUnsafeMutableBufferPointer { VectorMath.softmaxRow($0.baseAddress!, count: length) }
    for (value, exact) in zip(row, reference) {
      #expect(abs(Double(value) - exact) <= 1e-6 + 1e-5 * exact)
    }
  }

  @Test func softmaxRowOfMinusInfinityIsNaN() {
    var row = [Float](repeating: -.infinity, count: 10)
    row.withUnsafeMutableBufferPointer { VectorMath.softmaxRow($0.baseAddress!, count: 10) }
    let finite = row.filter { !$0.isNaN }
    #expect(finite.isEmpty)
  }

  /// Each instruction set's GELU (AVX-512, AVX2, plain C, as far as the machine has them) on the
  /// grid, a length with a 16-lane body and an 8-lane and scalar tail, against both definitions.
  @Test(arguments: [Int32(ATTNC_VECTOR_WIDEST), Int32(ATTNC_VECTOR_AVX2), Int32(ATTNC_VECTOR_PORTABLE)])
  func everyInstructionSetsGeluMatchesBothDefinitions(limit: Int32) {
    // Every 7th grid point (-30…30), cut to 16·33 + 8 + 5 values.
    let x = Array(Self.grid.enumerated().filter { $0.offset % 7 == 0 }.map(\.element).prefix(16 * 33 + 8 + 5))
    for tanh in [false, true] {
      let y = run({ attnc_gelu_limited($0, $1, $2, tanh ? 1 : 0, limit) }, x)
      for (i, value) in x.enumerated() {
        let v = Double(value)
        #expect(abs(Double(y[i]) - Self.gelu(v, tanh: tanh)) <= 1e-6 * max(1, abs(v)), "limit \(limit) tanh \(tanh) x \(value)")
      }
    }
  }

  /// The vector GELUs keep their relative accuracy in the negative tail, where 1 + erf(x/√2)
  /// cancels (they compute Φ = 1 − Φ(−x) from the complement), and give GELU's values at ±inf
  /// and NaN as the formula does (+inf, NaN, NaN).
  @Test(arguments: [Int32(ATTNC_VECTOR_WIDEST), Int32(ATTNC_VECTOR_AVX2)])
  func vectorGeluKeepsTheNegativeTailRelativelyAccurate(limit: Int32) {
    let x = (0..<(16 * 40)).map { -0.01 - Float($0) * 5.99 / Float(16 * 40 - 1) }  // -0.01 … -6
    let y = run({ attnc_gelu_limited($0, $1, $2, 0, limit) }, x)
    for (i, value) in x.enumerated() {
      let exact = Self.gelu(Double(value), tanh: false)
      #expect(abs(Double(y[i]) - exact) <= 1e-2 * abs(exact), "limit \(limit) x \(value): \(y[i]) vs \(exact)")
    }
    let specials = run({ attnc_gelu_limited($0, $1, $2, 0, limit) }, [Float.infinity, -.infinity, .nan] + Array(repeating: 1, count: 13))
    #expect(specials[0] == .infinity && specials[1].isNaN && specials[2].isNaN, "limit \(limit): \(specials[0..<3])")
  }

  /// GELU in Double: `x·Φ(x)` with erf, or the tanh approximation.
  static func gelu(_ v: Double, tanh: Bool) -> Double {
    tanh
      ? 0.5 * v * (1 + Foundation.tanh((2 / Double.pi).squareRoot() * (v + 0.044715 * v * v * v)))
      : 0.5 * v * (1 + Foundation.erf(v / 2.0.squareRoot()))
  }

  @Test func geluMatchesBothDefinitions() {
    let y = run({ VectorMath.gelu($0, into: $1, count: $2, tanh: false) }, Self.grid)
    let t = run({ VectorMath.gelu($0, into: $1, count: $2, tanh: true) }, Self.grid)
    for (i, x) in Self.grid.enumerated() {
      let v = Double(x)
      #expect(abs(Double(y[i]) - Self.gelu(v, tanh: false)) <= 1e-6 * max(1, abs(v)))
      #expect(abs(Double(t[i]) - Self.gelu(v, tanh: true)) <= 1e-6 * max(1, abs(v)))
    }
  }
}
