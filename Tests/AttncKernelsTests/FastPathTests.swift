@testable import AttncKernels
import AttncTensor
import Testing

/// The elementwise fast paths (strided broadcast rows) and the fused MatMul against plain
/// per-element references.
@Suite struct FastPathTests {
  static let shapePairs: [([Int], [Int])] = [
    ([2, 3, 4], [2, 3, 4]), ([2, 3, 4], [4]), ([2, 3, 4], [3, 1]), ([2, 1, 4], [1, 3, 1]),
    ([1, 12, 5, 5], [1, 1, 1, 5]), ([1, 12, 5, 5], [1, 1, 5, 5]), ([3, 1], [1, 4]), ([], [2, 2]),
    ([2, 3, 4], []), ([5, 1, 3], [5, 4, 1]),
  ]

  /// `op` by the broadcast index table, element by element.
  func reference(_ a: Tensor, _ b: Tensor, _ f: (Double, Double) -> Double) throws -> [Double] {
    let (_, indices) = try Elementwise.broadcastIndices([a.shape, b.shape])
    let x = a.isFloat ? a.floats.map(Double.init) : a.ints.map(Double.init)
    let y = b.isFloat ? b.floats.map(Double.init) : b.ints.map(Double.init)
    return zip(indices[0], indices[1]).map { f(x[$0], y[$1]) }
  }

  @Test(arguments: shapePairs.indices)
  func floatArithmeticMatchesReference(pair: Int) throws {
    let (sa, sb) = Self.shapePairs[pair]
    let a = Tensor.float((0..<sa.reduce(1, *)).map { Float($0) * 0.5 - 3 }, sa)
    let b = Tensor.float((0..<sb.reduce(1, *)).map { Float($0) * 0.25 + 1 }, sb)
    for (op, f) in [("Add", { (p: Double, q: Double) in p + q }), ("Sub", { $0 - $1 }), ("Mul", { $0 * $1 }), ("Div", { $0 / $1 })] {
      let fast = try #require(try BroadcastLoops.binary(op, a, b))
      let expected = try reference(a, b, f)
      #expect(fast.floats.count == expected.count)
      for (value, exact) in zip(fast.floats, expected) { #expect(abs(Double(value) - exact) <= 1e-6 * max(1, abs(exact)), "\(op) \(sa) \(sb)") }
    }
  }

  @Test(arguments: shapePairs.indices)
  func integerOpsMatchReference(pair: Int) throws {
    let (sa, sb) = Self.shapePairs[pair]
    let a = Tensor.int((0..<sa.reduce(1, *)).map { Int64($0 % 5) - 2 }, sa)
    let b = Tensor.int((0..<sb.reduce(1, *)).map { Int64($0 % 3) - 1 }, sb)
    for (op, f) in [("Add", { (p: Double, q: Double) in p + q }), ("Less", { $0 < $1 ? 1 : 0 }), ("And", { $0 != 0 && $1 != 0 ? 1 : 0 }), ("Max", { max($0, $1) })] {
      let fast = try #require(try BroadcastLoops.binary(op, a, b))
      let expected = try reference(a, b, f)
      #expect(fast.ints.map(Double.init) == expected, "\(op) \(sa) \(sb)")
    }
  }

  /// Addend sets for the fused epilogue over a `[2, 3, 4, n]` product: bias and mask (the
  /// common one-addend-per-row and broadcast-batch shapes), residual plus a per-row column
  /// (column stride 0), and three at once (the generic loop).
  static func fusedAddends(_ set: Int, n: Int) -> [Tensor] {
    func values(_ shape: [Int], _ salt: Int) -> Tensor {
      .float((0..<shape.reduce(1, *)).map { Float(($0 * salt) % 17) / 17 - 0.5 }, shape)
    }
    let bias = values([n], 3)
    let mask = Tensor.float((0..<(2 * n)).map { $0 % 4 == 0 ? -10_000 : 0 }, [2, 1, 1, n])
    switch set {
    case 0: return [bias, mask]
    case 1: return [values([2, 3, 4, n], 5), values([4, 1], 7)]
    default: return [bias, values([2, 3, 4, 1], 11), values([2, 3, 4, n], 13)]
    }
  }

  @Test(arguments: ["none", "gelu", "gelu_tanh", "softmax"], [0, 1, 2])
  func fusedMatMulMatchesUnfusedChain(activation: String, addendSet: Int) throws {
    // [2, 3, 4, 5] × [3, 5, n] (broadcast batch), alpha 0.5; n = 37 has full vectors and a tail.
    for n in [6, 37] {
      let a = Tensor.float((0..<120).map { Float(($0 * 7) % 11) / 11 - 0.5 }, [2, 3, 4, 5])
      let b = Tensor.float((0..<(15 * n)).map { Float(($0 * 5) % 13) / 13 - 0.5 }, [3, 5, n])
      let addends = Self.fusedAddends(addendSet, n: n)
      let fused = try LinearAlgebra.fusedMatMul(a, b, addends: addends, alpha: 0.5, activation: activation)
      var expected = try LinearAlgebra.matmul(a, b)
      expected = try Elementwise.binary("Mul", expected, .float([0.5], []))
      for addend in addends { expected = try Elementwise.binary("Add", expected, addend) }
      if activation == "gelu" { expected = try Elementwise.unary("Gelu", expected) }
      if activation == "gelu_tanh" {
        expected = .float(expected.floats.map { VectorMath.gelu($0, tanh: true) }, expected.shape)
      }
      if activation == "softmax" { expected = try LinearAlgebra.softmax(expected, axis: -1) }
      #expect(fused.shape == [2, 3, 4, n])
      for (value, exact) in zip(fused.floats, expected.floats) {
        #expect(abs(value - exact) <= 1e-5 * max(1, abs(exact)), "n \(n), \(activation), addends \(addendSet)")
      }
    }
  }

  @Test func blasCoreUpgradeOnlyWhenNeeded() {
    let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]
    #expect(BLASCore.better(current: "prescott", flags: avx512, environment: [:]) == "SkylakeX")
    #expect(BLASCore.better(current: "prescott", flags: ["avx2", "fma"], environment: [:]) == "Haswell")
    #expect(BLASCore.better(current: "skylakex", flags: avx512, environment: [:]) == nil)
    #expect(BLASCore.better(current: "prescott", flags: avx512, environment: ["OPENBLAS_CORETYPE": "Prescott"]) == nil)
    #expect(BLASCore.better(current: "prescott", flags: ["sse3"], environment: [:]) == nil)
  }

  @Test func blasEnvironmentSetsWhatTheUserLeftUnset() {
    let avx512: Set<String> = ["avx2", "fma", "avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd"]
    #expect(BLASCore.environment(current: "prescott", flags: avx512, environment: [:])
      == ["OPENBLAS_CORETYPE": "SkylakeX", "OPENBLAS_THREAD_TIMEOUT": BLASCore.threadTimeout])
    #expect(BLASCore.environment(current: "skylakex", flags: avx512, environment: [:]) == ["OPENBLAS_THREAD_TIMEOUT": BLASCore.threadTimeout])
    // After the re-execution (or when the user set both) nothing changes: no second exec.
    let set = ["OPENBLAS_CORETYPE": "SkylakeX", "OPENBLAS_THREAD_TIMEOUT": "28"]
    #expect(BLASCore.environment(current: "skylakex", flags: avx512, environment: set).isEmpty)
    #expect(BLASCore.environment(current: "prescott", flags: avx512, environment: set).isEmpty)
  }
}
