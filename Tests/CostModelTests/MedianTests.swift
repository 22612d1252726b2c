import AttncCost
import Testing

/// The one median every timing uses (`attnc run --stats`, `bench`, calibration): the middle value,
/// or the mean of the middle two for an even count, as numpy's, which times the peer runtimes.
@Suite struct MedianTests {
  @Test func middleValueOrMeanOfTheMiddleTwo() {
    #expect([Double]().median == 0)
    #expect([4.0].median == 4)
    #expect([9.0, 1, 5].median == 5)
    #expect([10.0, 2].median == 6)  // not the larger of the two
    #expect([7.0, 1, 3, 100].median == 5)
  }
}
