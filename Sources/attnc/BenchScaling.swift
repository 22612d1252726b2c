import ArgumentParser
import AttncCost
import AttncKit
import Foundation

/// `attnc bench scaling`: one attention layer per variant at growing N.
struct BenchScaling: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scaling",
    abstract: "Time each attention variant on one layer (batch 1) as the sequence grows.",
    discussion: """
      Times the attention alone — Q, K, V [1, heads, N, d] of seeded normal values, q scaled by \
      1/√d — for every variant (default: all at their defaults) at each --seq, and prints the \
      median time, the FLOPs its cost formula predicts, the achieved rate and the speedup over \
      the fused exact kernel at the same N. The linear variants' times grow linearly in N; exact \
      attention's quadratically.

      Examples:
        attnc bench scaling --seq 1024 --seq 4096 --seq 16384 --seq 65536
        attnc bench scaling --seq 8192 --causal --variant softmax --variant performer --variant fastmax:p=1
      """)

  @Option(name: .customLong("seq"), help: "Sequence lengths. Repeatable (default 1024, 4096).")
  var sequences: [Int] = []

  @Option(help: "Head dimension.")
  var depth: Int = 64

  @Option(help: "Heads.")
  var heads: Int = 8

  @Flag(help: "Causal attention (variants without a causal form are skipped).")
  var causal = false

  @Option(name: .customLong("variant"), help: ArgumentHelp("A variant setting (NAME[:key=value,...]). Repeatable; default every variant.", valueName: "variant"))
  var variants: [String] = []

  @Option(name: .customLong("repeat"), help: "Timed runs per point (the median is reported).")
  var repetitions: Int = 3

  @OptionGroup var threading: ThreadOptions

  @Option(help: "Output format: table or json.")
  var format: OutputFormat = .table

  func validate() throws {
    guard depth >= 1, heads >= 1, repetitions >= 1 else { throw ValidationError("--depth, --heads and --repeat must be at least 1") }
    guard sequences.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--seq must be at least 1") }
  }

  func run() throws {
    threading.configure()
    let settings = try ScalingBenchmark.settings(variants, causal: causal)
    var points: [[String: Any]] = []
    if format == .table {
      print("one attention layer: batch 1, \(heads) heads, d = \(depth)\(causal ? ", causal" : ""), \(ProcessSetup.threads) threads, median of \(repetitions)")
      print("N        variant                          ms     GFLOP   GFLOP/s   vs softmax")
    }
    try ScalingBenchmark.run(
      settings: settings, lengths: sequences.isEmpty ? [1024, 4096] : sequences, depth: depth, heads: heads, causal: causal,
      repetitions: repetitions, starting: { n, text in FileHandleOutput.standardError("N=\(n) \(text)…\n") }
    ) { point in
      let (n, text, median, flops, speedup) = (point.length, point.setting, point.medianMilliseconds, point.flops, point.speedupOverSoftmax)
      points.append([
        "n": n, "variant": text, "median_ms": median, "gflop": flops / 1e9, "gflops_per_s": flops / median / 1e6,
        "speedup_over_softmax": speedup ?? NSNull(),
      ])
      if format == .table {
        print(String(n).padding(toLength: 9, withPad: " ", startingAt: 0) + text.padding(toLength: 28, withPad: " ", startingAt: 0)
          + String(format: " %10.2f %9.3f %9.1f   ", median, flops / 1e9, flops / median / 1e6) + (speedup.map { String(format: "%.2f×", $0) } ?? "-"))
      }
    }
    if format == .json {
      let object: [String: Any] = ["heads": heads, "depth": depth, "causal": causal, "threads": ProcessSetup.threads, "points": points]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}
