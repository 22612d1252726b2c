import AttncTensor
import Testing

/// Dim arithmetic on hostile coefficients (declared dims near 2^63, a plan's DimExpr) gives
/// `Dim.overflowed` instead of trapping; shape inference then refuses it.
@Suite struct DimOverflowTests {
  let big = Dim(1 << 62)
  let seq = Dim.symbol("seq")

  @Test func sumsAndProductsThatOverflowAreMarked() {
    #expect((big + big).isOverflowed)
    #expect((big * 2).isOverflowed)
    #expect((seq * big * 4).isOverflowed)
    #expect(!(big + 1).isOverflowed)
    #expect((big + 1).value == (1 << 62) + 1)
    #expect(((big + big) + 1).isOverflowed, "the mark survives further arithmetic")
  }

  @Test func negationAndSubtractionOfTheSmallestIntAreMarked() {
    let smallest = Dim(Int.min)
    #expect((-smallest).isOverflowed)
    #expect((Dim(0) - smallest).isOverflowed)
    #expect((Dim(-5) - Dim(Int.max)).isOverflowed)
    #expect((Dim(-1) - Dim(Int.max)).value == Int.min)
  }

  @Test func floorDivisionOfExtremeCoefficientsIsExact() {
    #expect(Dim(Int.min).floorDivided(by: 3).value == Int.min / 3 - 1)
    #expect(Dim(Int.max).floorDivided(by: 2).value == Int.max / 2)
    #expect(Dim(-7).floorDivided(by: 2).value == -4)
    let odd = (seq * Dim(Int.min) + 1).floorDivided(by: 3)
    #expect(!odd.isOverflowed)
    #expect(Dim(-7).modulo(2).value == 1)
  }

  @Test func exactDivisionOfTheSmallestIntByMinusOneIsNotTried() {
    let dividend = seq * Dim(Int.min) + Dim(Int.min)
    let divisor = -(seq + 1)
    // Int.min / -1 would overflow: no quotient is found, and nothing traps.
    #expect(dividend.divided(by: divisor) == nil)
  }

  @Test func evaluationOfAnOverflowedDimIsUnbound() {
    #expect((big * 4).evaluate([:]) == nil)
  }
}
