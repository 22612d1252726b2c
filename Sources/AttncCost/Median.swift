/// The median of measured times or ratios: the middle value, or the mean of the two middle
/// values for an even count (as numpy's `median`, which the benchmark scripts use for the peer
/// runtimes); 0 for none.
extension Array where Element == Double {
  public var median: Double {
    guard !isEmpty else { return 0 }
    let sorted = self.sorted()
    return sorted.count % 2 == 1 ? sorted[sorted.count / 2] : (sorted[sorted.count / 2 - 1] + sorted[sorted.count / 2]) / 2
  }
}
