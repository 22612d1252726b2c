import AttncKernels
import AttncTensor
import Foundation
import Testing

/// Step-by-step rounding of float16 and bfloat16 arithmetic, on values whose roundings are
/// known by hand.
@Suite struct NarrowFloatArithmeticTests {
  let bfloat16 = NarrowFloatArithmetic(.bfloat16)!
  let float16 = NarrowFloatArithmetic(.float16)!

  /// bfloat16 by hand: keep the top 16 bits, round half to even.
  static func bfloat16Plain(_ x: Float) -> Float {
    let bits = x.bitPattern
    let kept = bits & 0xFFFF_0000
    let dropped = bits & 0xFFFF
    let up = dropped > 0x8000 || (dropped == 0x8000 && kept & 0x1_0000 != 0)
    return Float(bitPattern: up ? kept + 0x1_0000 : kept)
  }
}

extension NarrowFloatArithmeticTests {
  @Test func onlyNarrowTypesRound() {
    #expect(NarrowFloatArithmetic(.float) == nil)
    #expect(NarrowFloatArithmetic(.double) == nil)
  }

  /// bfloat16 keeps 8 significant bits: 1 + 2⁻⁸ is a tie going to 1, 1 + 3·2⁻⁸ one going to
  /// 1 + 2⁻⁶ (the even mantissa).
  @Test func roundsHalfToEven() {
    #expect(bfloat16.rounded(1 + 0x1p-8) == 1)
    #expect(bfloat16.rounded(1 + 3 * 0x1p-8) == 1 + 0x1p-6)
    #expect(float16.rounded(1 + 0x1p-11) == 1)
    #expect(float16.rounded(1 + 3 * 0x1p-11) == 1 + 0x1p-9)
    #expect(bfloat16.rounded(.infinity) == .infinity)
  }

  /// Adding 300 ones: bfloat16 rounds every partial sum, so it sticks at 256 (256 + 1 is a tie
  /// going back to 256); float16 accumulates in Float32 and holds 300 exactly.
  @Test func sumsDifferByType() {
    var bf: Float = 0
    var half: Float = 0
    for _ in 0..<300 {
      bf = bfloat16.accumulated(bf, 1)
      half = float16.accumulated(half, 1)
    }
    #expect(bfloat16.rounded(bf) == 256)
    #expect(float16.rounded(half) == 300)
  }

  /// bfloat16 softmax against a plain loop rounding each step.
  @Test func bfloat16SoftmaxRoundsEveryStep() throws {
    let row: [Float] = [0.1015625, 1.5, -2.25, 3, 0.75]
    let r = Self.bfloat16Plain
    let top = row.max()!
    let e = row.map { r(exp(r($0 - top))) }
    let sum = e.reduce(0) { r($0 + $1) }
    let expected = e.map { r($0 / sum) }
    let y = try bfloat16.softmax(.float(row, [1, 5], dtype: .bfloat16), axis: -1)
    #expect(y.floats == expected)
  }

  /// Softmax over a middle axis walks strided rows: [2, 3, 2] over axis 1.
  @Test func softmaxOverAMiddleAxis() throws {
    let x: [Float] = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]
    let y = try float16.softmax(.float(x, [2, 3, 2], dtype: .float16), axis: 1)
    for (o, s) in [(0, 0), (0, 1), (1, 0), (1, 1)] {
      let column = (0..<3).map { y.floats[o * 6 + $0 * 2 + s] }
      #expect(abs(column.reduce(0, +) - 1) < 2e-3)
      #expect(column[0] < column[1] && column[1] < column[2])
    }
  }

  @Test func kernelOutputsRoundToTheirType() {
    let t = Tensor.float([1 + 0x1p-8, 1 + 3 * 0x1p-8], [2], dtype: .bfloat16).roundedToDType()
    #expect(t.floats == [1, 1 + 0x1p-6])
    let wide = Tensor.float([1 + 0x1p-20], [1]).roundedToDType()
    #expect(wide.floats == [1 + 0x1p-20])
  }
}
