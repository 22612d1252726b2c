import AttncCost
import AttncKit
import AttncTestSupport
import Foundation
import Testing

/// Key/value token merging on the captured heads of `../shared/attention-data`: its error stays
/// small, and it matches the numpy tool's `tome kv-merge 25% prop-attn` and `no prop` rows
/// (`tools/attention_error_check.py`): the same algorithm in float32 instead of float64, so the
/// medians must agree to 0.02.
@Suite(.serialized) struct TokenMergeQualityTests {
  /// One dataset merged by a quarter, with and without proportional attention.
  struct Evaluation {
    var dataset: AttentionQuality.Dataset
    var proportional: TokenMergeQuality.Row
    var plain: TokenMergeQuality.Row
  }

  /// Both evaluations of every dataset, computed once for the suite's two tests; nil without
  /// ../shared.
  static let evaluations: Result<[Evaluation], any Error>? = {
    guard let shared = Fixtures.shared else { return nil }
    let folder = shared.appendingPathComponent("attention-data").path
    return Result {
      try AttentionQuality.datasets(at: folder).map { dataset in
        Evaluation(
          dataset: dataset, proportional: try TokenMergeQuality.evaluate(dataset, fraction: 0.25),
          plain: try TokenMergeQuality.evaluate(dataset, fraction: 0.25, proportional: false))
      }
    }
  }()

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func quarterMergeKeepsTheErrorSmall() throws {
    let evaluations = try #require(Self.evaluations).get()
    #expect(evaluations.count == 2)
    for evaluation in evaluations {
      let dataset = evaluation.dataset
      let proportional = evaluation.proportional
      let plain = evaluation.plain
      print(
        "token merge \(dataset.name): r=\(proportional.merged) of \(dataset.tokens), median prop-attn "
          + "\(proportional.median) [\(proportional.p10), \(proportional.p90)], no prop \(plain.median)"
      )
      #expect(proportional.heads == dataset.layers.count * dataset.heads)
      // The "about 0.06"; proportional attention is what makes it small.
      #expect(proportional.median < 0.1 && proportional.median < plain.median)
    }
  }

  @Test(
    .enabled(
      if: AttentionQualityTests.available,
      "needs ../shared and python3 with numpy (the reference tool)"))
  func quarterMergeMatchesTheNumpyReference() throws {
    let evaluations = try #require(Self.evaluations).get()
    let numpy = try #require(AttentionQualityTests.numpy)
    #expect(evaluations.count == 2)
    for evaluation in evaluations {
      let name = evaluation.dataset.name
      let rows = try #require(numpy[name], "numpy tool has no rows for \(name)")
      for (label, row) in [
        ("tome kv-merge 25% prop-attn", evaluation.proportional),
        ("tome kv-merge 25% no prop", evaluation.plain),
      ] {
        let reference = try #require(rows[label], "numpy tool has no row '\(label)' for \(name)")
        #expect(
          abs(row.median - reference) <= 0.02,
          "\(name) \(label): \(row.median) vs numpy \(reference)")
      }
    }
  }
}
