import Foundation

/// Whether attnc checks its own work as it goes (the IR after every pass, every arena plan):
/// in debug builds, and whenever `ATTNC_VERIFY=1` (the test script sets it, so release-mode test
/// runs check too).
public enum SelfChecks {
  public static let enabled: Bool = {
    #if DEBUG
      return true
    #else
      return ProcessInfo.processInfo.environment["ATTNC_VERIFY"] == "1"
    #endif
  }()
}
