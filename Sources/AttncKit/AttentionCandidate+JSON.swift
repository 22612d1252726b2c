import AttncCost

extension AttentionCandidate {
  /// The candidate as `inspect --format json` lists it: variant, parameters, cost, predicted
  /// milliseconds, error with its source, measured density (sparse settings), and whether (or why
  /// not) it is allowed.
  public var json: JSON {
    .object([
      ("variant", .string(variant)),
      ("params", .object(parameters.values.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
      ("gflops", .number(cost.flops / 1e9)), ("exponentials", .number(cost.exponentials)), ("bytes", .number(cost.bytes)),
      ("extra_memory_bytes", .number(cost.extraMemoryBytes)),
      ("predicted_ms", predictedSeconds.map { .number($0 * 1e3) } ?? .null), ("error", error.map(JSON.number) ?? .null),
      ("error_source", .string(errorSource)), ("density", density.map(JSON.number) ?? .null),
      ("allowed", .bool(allowed)), ("reason", refusal.map(JSON.string) ?? .null),
    ])
  }
}
