import AttncTensor
import Foundation

/// The results of a batch conversion as a summary table, a summary line and a JSON report.
public struct BatchReport: Sendable {
  /// One result per input, in input order.
  public var results: [ModelResult]
  /// The canonical options every model was converted with (`BatchSettings.options`).
  public var options: String
  /// Wall time of the whole batch.
  public var seconds: Double

  public init(results: [ModelResult], options: String, seconds: Double) {
    self.results = results
    self.options = options
    self.seconds = seconds
  }

  public var converted: Int { results.filter { $0.status == .converted }.count }
  public var skipped: Int { results.filter { $0.status == .skipped }.count }
  public var failed: Int { results.filter { $0.status == .failed }.count }

  // MARK: - Text

  /// `11 models: 8 converted, 1 skipped, 2 failed in 4.2 s`.
  public var summaryLine: String {
    let count = results.count
    return "\(count) model\(count == 1 ? "" : "s"): \(converted) converted, \(skipped) skipped, "
      + "\(failed) failed in \(Self.duration(seconds))"
  }

  /// The summary table: model, status, layers matched, variants chosen, predicted speedup,
  /// input and plan size, time; one row per model, `—` where a value is unknown.
  public func table() -> String {
    let header = ["model", "status", "layers", "variants", "attn speedup", "input", "plan", "time"]
    let rows = results.map { result -> [String] in
      [
        result.input, result.status.rawValue,
        result.layersMatched.map(String.init) ?? "—",
        result.variants.isEmpty
          ? "—" : result.variants.map { "\($0.variant) ×\($0.layers)" }.joined(separator: ", "),
        result.predictedSpeedup.map { String(format: "%.2f×", $0) } ?? "—",
        Self.size(result.inputBytes),
        result.planBytes.map(Self.size) ?? "—",
        Self.duration(result.seconds),
      ]
    }
    let all = [header] + rows
    let widths = header.indices.map { column in all.map { $0[column].count }.max() ?? 0 }
    // Numbers right-aligned, text left-aligned.
    let rightAligned: Set<Int> = [2, 4, 5, 6, 7]
    return all.map { row in
      row.enumerated().map { column, cell in
        let pad = String(repeating: " ", count: widths[column] - cell.count)
        return rightAligned.contains(column) ? pad + cell : cell + pad
      }.joined(separator: "  ").trimmingCharacters(in: .whitespaces)
    }.joined(separator: "\n")
  }

  /// `512 B`, `3.4 KB`, `21.3 MB`, `1.2 GB` (powers of 1000).
  public static func size(_ bytes: Int) -> String {
    let value = Double(bytes)
    if value < 1e3 { return "\(bytes) B" }
    if value < 1e6 { return String(format: "%.1f KB", value / 1e3) }
    if value < 1e9 { return String(format: "%.1f MB", value / 1e6) }
    return String(format: "%.1f GB", value / 1e9)
  }

  /// `0.42 s`, `12.3 s`, `4m05s`, `2h03m`.
  public static func duration(_ seconds: Double) -> String {
    if seconds < 10 { return String(format: "%.2f s", seconds) }
    if seconds < 60 { return String(format: "%.1f s", seconds) }
    let whole = Int(seconds.rounded())
    if whole < 3600 { return String(format: "%dm%02ds", whole / 60, whole % 60) }
    return String(format: "%dh%02dm", whole / 3600, whole % 3600 / 60)
  }

  // MARK: - JSON

  /// The machine-readable report: `{"schema", "producer", "options", "summary", "models":
  /// [{"input", "output", "status", "error", "reason", "layers_matched", "variants",
  /// "predicted_speedup", "input_bytes", "plan_bytes", "started", "seconds", "stages"}]}`, models in input
  /// order, `null` where a value is unknown.
  public func json() -> JSON {
    let models = results.map { result -> JSON in
      .object([
        ("input", .string(result.input)),
        ("output", .string(result.output)),
        ("status", .string(result.status.rawValue)),
        ("error", result.error.map(JSON.string) ?? .null),
        ("reason", result.reason.map(JSON.string) ?? .null),
        ("layers_matched", result.layersMatched.map(JSON.int) ?? .null),
        (
          "variants",
          result.status == .failed
            ? .null : .object(result.variants.map { ($0.variant, .int($0.layers)) })
        ),
        ("predicted_speedup", result.predictedSpeedup.map(JSON.number) ?? .null),
        ("input_bytes", .int(result.inputBytes)),
        ("plan_bytes", result.planBytes.map(JSON.int) ?? .null),
        ("started", .number(Self.rounded(result.started))),
        ("seconds", .number(Self.rounded(result.seconds))),
        ("stages", .object(result.stages.map { ($0.name, .number(Self.rounded($0.seconds))) })),
      ])
    }
    return .object([
      ("schema", .string("attnc.convert.batch/1")),
      ("producer", .string(Compiler.version)),
      ("options", .string(options)),
      (
        "summary",
        .object([
          ("models", .int(results.count)), ("converted", .int(converted)),
          ("skipped", .int(skipped)), ("failed", .int(failed)),
          ("seconds", .number(Self.rounded(seconds))),
        ])
      ),
      ("models", .array(models)),
    ])
  }

  /// Writes `json()` to `path` atomically (a temporary file, then a rename).
  /// - Throws: `AttncError` (`.io`) naming the path.
  public func write(to path: String) throws {
    try AtomicFile.write(Array((json().rendered() + "\n").utf8), to: path)
  }

  /// `seconds` to the millisecond, so reports do not show float noise.
  static func rounded(_ seconds: Double) -> Double { (seconds * 1000).rounded() / 1000 }
}
