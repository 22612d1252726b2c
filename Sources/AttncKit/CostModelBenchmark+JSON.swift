import AttncCost

extension CostModelBenchmark.Summary {
  /// The summary as `attnc bench cost-model --format json` prints it: the totals, then every
  /// grid point with each setting's predicted and measured milliseconds.
  public var json: JSON {
    .object([
      ("grid_points", .int(points.count)), ("points_unseen_by_the_fit", .int(points.filter(\.unseen).count)),
      ("within_10pct_share", .number(withinTenPercentShare)),
      ("median_predicted_over_measured", .number(medianPredictedOverMeasured)), ("worst_regret", .number(worstRegret)),
      ("points", .array(points.map { point in
        .object([
          ("seq_len", .int(point.seqLen)), ("head_dim", .int(point.depth)), ("heads", .int(point.heads)), ("causal", .bool(point.causal)),
          ("chosen", .string(point.chosen)), ("fastest", .string(point.fastest)), ("regret", .number(point.regret)),
          ("timings", .array(point.timings.map {
            .object([("variant", .string($0.setting)), ("predicted_ms", .number($0.predicted * 1e3)), ("measured_ms", .number($0.measured * 1e3))])
          })),
        ])
      })),
    ])
  }
}
