import ArgumentParser
import AttncCost
import AttncKit
import AttncTensor
import Foundation

/// `attnc bench quality --attention-data DIR`: each variant's error against exact attention on
/// captured heads.
struct BenchQuality: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "quality",
    abstract: "Measure each attention variant's error against exact attention on captured Q/K/V.",
    discussion: """
      DIR holds layerL_q.npy, layerL_k.npy, layerL_v.npy ([heads, N, d], q already scaled), or \
      subfolders that do (as ../shared/attention-data). For every variant setting, every head's \
      relative error ‖Ô − O‖_F / ‖O‖_F against softmax(q·kᵀ)·v is measured; the table gives the \
      median and the 10th and 90th percentiles over heads (and over --draws seeds for the \
      settings with random features or projections), and, where the numpy reference \
      (tools/attention_error_check.py) measures the same setting, the name of its row. \
      Random-feature settings move by about ±0.05 between seeds. For the settings the tiled \
      kernel runs (softmax, skip-softmax, blocksparse), density is the median over heads of the \
      share of query-key pairs attended.

      --budget E prints, per layer and head, the cheapest setting whose error on that head is \
      at most E, with its error, its density (the share of query-key pairs the tiled kernel \
      attended on that head: skip-softmax and block-sparse settings) and its cost relative to \
      exact attention (the cost formula's FLOPs and exponentials at that density, bfloat16 \
      products at half). The settings are those of --variant (default: softmax:prec=int8pv, \
      softmax:prec=int8, softmax:prec=bf16, softmax:skip=6/9/12, blocksparse at tau 0.9/0.95/0.99, and bfloat16 with \
      skip or block-sparse); exact softmax when none is within E and cheaper.

      Examples:
        attnc bench quality --attention-data ../shared/attention-data
        attnc bench quality --attention-data DIR --variant performer:m=512 --variant nystrom:m=128
        attnc bench quality --attention-data DIR --format json
        attnc bench quality --attention-data DIR --budget 0.01
        attnc bench quality --attention-data DIR --causal --budget 0.01
      """)

  @Option(name: .customLong("attention-data"), help: "Folder of captured q/k/v arrays.")
  var attentionData: String

  @Option(name: .customLong("variant"), help: ArgumentHelp("A setting to evaluate (NAME[:key=value,...]). Repeatable; default: every variant at its default and a few other settings.", valueName: "variant"))
  var variants: [String] = []

  @Option(help: ArgumentHelp("Print the cheapest setting within this error per layer and head.", valueName: "E"))
  var budget: Double?

  @Flag(help: "The heads are a decoder's: query i sees keys j ≤ i (settings without a causal form are left out).")
  var causal = false

  @Option(help: "Seeds per random-feature setting; statistics pool the heads of all draws.")
  var draws: Int = 4

  @OptionGroup var threading: ThreadOptions

  @Option(help: "Output format: table or json.")
  var format: OutputFormat = .table

  func run() throws {
    guard draws >= 1 else { throw ValidationError("--draws must be at least 1") }
    threading.configure()
    if let budget, !(budget >= 0) { throw ValidationError("--budget must be a non-negative number") }
    let defaults = budget == nil
      ? AttentionQuality.standardSettings
      : ["softmax:prec=int8pv", "softmax:prec=int8"].map { AttentionQuality.Setting($0) } + AttentionQuality.budgetSettings
    let settings = variants.isEmpty ? defaults : variants.map { AttentionQuality.Setting($0) }
    for setting in settings { try VariantCatalog.check(setting.variant) }  // fail before the work
    var rows: [AttentionQuality.Row] = []
    let datasets = try AttentionQuality.datasets(at: attentionData)
    for dataset in datasets {
      rows += try AttentionQuality.evaluate(dataset, settings: settings, draws: draws, causal: causal) { variant in
        FileHandleOutput.standardError("\(dataset.name): \(variant)…\n")
      }
    }
    if format == .json {
      print(JSON.object([
        ("variants", .array(rows.map { row in
          .object([
            ("dataset", .string(row.dataset)), ("variant", .string(row.variant)),
            ("params", .object(row.parameters.sorted { $0.key < $1.key }.map { ($0.key, .number($0.value)) })),
            ("median", .number(row.median)), ("p10", .number(row.p10)), ("p90", .number(row.p90)), ("heads", .int(row.heads)),
            ("density_median", row.headDensities.isEmpty ? .null : .number(AttentionQuality.percentile(row.headDensities.flatMap { $0 }, 50))),
            ("numpy_reference", row.setting.numpyLabel.map(JSON.string) ?? .null),
          ])
        }))
      ]).rendered())
      return
    }
    for dataset in datasets {
      print("\(dataset.name): \(dataset.layers.count) layers × \(dataset.heads) heads, N = \(dataset.tokens), d = \(dataset.depth)")
      if let budget {
        printCheapest(AttentionQuality.cheapest(rows, dataset: dataset, budget: budget, causal: causal), budget: budget, heads: dataset.heads)
      }
      print("  setting                            median      p10      p90  density   numpy reference row")
      for row in rows where row.dataset == dataset.name {
        // The median over heads of the share of query-key pairs attended (tiled-kernel settings).
        let densities = row.headDensities.flatMap { $0 }
        let density = densities.isEmpty ? "-" : String(format: "%.3f", AttentionQuality.percentile(densities, 50))
        print("  " + row.setting.variant.padding(toLength: 30, withPad: " ", startingAt: 0)
          + String(format: " %9.4f %8.4f %8.4f  ", row.median, row.p10, row.p90) + density.padding(toLength: 10, withPad: " ", startingAt: 0)
          + (row.setting.numpyLabel ?? "-"))
      }
    }
  }

  /// A head a line: its cheapest setting within `budget`, error, density and relative cost;
  /// then how many heads took each setting and the mean cost.
  func printCheapest(_ choices: [AttentionQuality.HeadChoice], budget: Double, heads: Int) {
    print("  cheapest setting within \(budget) per head:")
    print("  layer  head  setting                           error    density  cost")
    for choice in choices.sorted(by: { ($0.layer, $0.head) < ($1.layer, $1.head) }) {
      // Over budget everywhere: exact, and the closest setting's error after a '>'.
      let error = choice.closest.map { ">" + String(format: "%.4f", $0.error) } ?? String(format: "%.4f", choice.error)
      print(
        "  " + String(choice.layer).padding(toLength: 7, withPad: " ", startingAt: 0)
          + String(choice.head).padding(toLength: 6, withPad: " ", startingAt: 0)
          + choice.setting.padding(toLength: 34, withPad: " ", startingAt: 0) + error.padding(toLength: 9, withPad: " ", startingAt: 0)
          + String(format: "%-9.3f%.3f", choice.density, choice.cost))
    }
    let counts = Dictionary(grouping: choices, by: \.setting).mapValues(\.count).sorted { $0.key < $1.key }
    print("  heads: " + counts.map { "\($0.value) \($0.key)" }.joined(separator: ", "))
    let cost = choices.reduce(0) { $0 + $1.cost } / Double(max(1, choices.count))
    let density = choices.reduce(0) { $0 + $1.density } / Double(max(1, choices.count))
    print(String(format: "  mean over heads: cost %.3f of exact float32, density %.3f", cost, density))
  }
}
