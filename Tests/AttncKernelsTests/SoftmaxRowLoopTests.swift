import CAttnc
import Foundation
import Testing

/// The C softmax-row loops (AVX2 when the machine has it, else SSE2) against Foundation.
@Suite struct SoftmaxRowLoopTests {
  @Test func expShiftSumIsWithinTwoUlpAndSumsWhatItWrites() {
    // Odd length so both the 8-wide body and the scalar tail run; the edges of exp's range too.
    var x: [Float] = (-2000...2003).map { Float($0) / 64 } + [-88, -87.3, 88.7, 89, -.infinity, 0, 1e-7]
    let shift: Float = 1.5
    let original = x
    let sum = attnc_exp_shift_sum(&x, x.count, shift)
    var total: Double = 0
    for (input, value) in zip(original, x) {
      let exact = Foundation.exp(Double(input - shift))
      total += Double(value)
      if exact < Double(Float.leastNormalMagnitude) {
        #expect(value >= 0 && Double(value) <= 2 * Double(Float.leastNormalMagnitude), "exp(\(input) - 1.5) = \(value)")
      } else if exact > Double(Float.greatestFiniteMagnitude) {
        #expect(value == .infinity)
      } else {
        #expect(abs(Double(value) - exact) <= 2 * Double(Float(exact).ulp), "exp(\(input) - 1.5) = \(value), exact \(exact)")
      }
    }
    #expect(abs(Double(sum) - total) <= 1e-5 * total)
    var withNaN: [Float] = [1, 2, .nan, 3, 4, 5, 6, 7, 8, 9]
    #expect(attnc_exp_shift_sum(&withNaN, withNaN.count, 0).isNaN)
    #expect(withNaN[2].isNaN)
  }

  @Test func rowMaxSkipsNaNAndHandlesTails() {
    for n in [0, 1, 7, 8, 9, 31] {
      let x = (0..<n).map { Float(($0 * 37) % 11) - 5 }
      #expect(attnc_row_max(x, n) == (x.max() ?? -.infinity), "n = \(n)")
    }
    let x: [Float] = [1, .nan, 3, -2, .nan, 0, 2, 1, .nan, 2.5]
    #expect(attnc_row_max(x, x.count) == 3)
    let masked = [Float](repeating: -.infinity, count: 12)
    #expect(attnc_row_max(masked, masked.count) == -.infinity)
  }
}
