import ArgumentParser
import AttncCost
import AttncKit
import AttncKernels
import AttncTensor
import Foundation

/// `attnc bench scaling`: one attention layer per variant at growing N.
struct BenchScaling: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "scaling",
    abstract: "Time each attention variant on one layer (batch 1) as the sequence grows.",
    discussion: """
      Times the attention alone — Q, K, V [1, heads, N, d] of seeded normal values, q scaled by
      1/√d — for every variant (default: all at their defaults) at each --seq, and prints the
      median time, the FLOPs its cost formula predicts, the achieved rate and the speedup over
      the fused exact kernel at the same N. The linear variants' times grow linearly in N; exact
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

  @Option(help: "Threads: attnc's pool for its loops and the GEMMs it splits.")
  var threads: Int = 2

  @Option(help: "Output format: table or json.")
  var format: OutputFormat = .table

  func validate() throws {
    guard depth >= 1, heads >= 1, repetitions >= 1, threads >= 1 else { throw ValidationError("--depth, --heads, --repeat and --threads must be at least 1") }
    guard sequences.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--seq must be at least 1") }
  }

  func run() throws {
    configureThreads(threads)
    let settings = try (variants.isEmpty ? AttentionVariants.all.map(\.name) : variants).map { text in
      (text, try AttentionVariants.parse(text))
    }.filter { !causal || $0.1.0.supportsCausal }
    var points: [[String: Any]] = []
    if format == .table {
      print("one attention layer: batch 1, \(heads) heads, d = \(depth)\(causal ? ", causal" : ""), \(Parallel.threads) threads, median of \(repetitions)")
      print("N        variant                          ms     GFLOP   GFLOP/s   vs softmax")
    }
    for n in sequences.isEmpty ? [1024, 4096] : sequences {
      var generator = SplitMix(seed: 0xA77)
      func tensor(_ scale: Float) -> Tensor {
        .float((0..<(heads * n * depth)).map { _ in generator.normal() * scale }, [1, heads, n, depth])
      }
      let q = tensor(1 / Float(depth).squareRoot()), k = tensor(1), v = tensor(1)
      var exactTime: Double?
      for (text, (definition, parameters)) in settings {
        FileHandleOutput.standardError("N=\(n) \(text)…\n")
        var times: [Double] = []
        for _ in 0..<repetitions {
          let start = DispatchTime.now().uptimeNanoseconds
          _ = try VariantAttention.run(definition, parameters: parameters, q: q, k: k, v: v, mask: .none, scale: 1, causal: causal)
          times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6)
        }
        let median = times.sorted()[times.count / 2]
        if definition.name == "softmax" { exactTime = median }
        let cost = definition.cost(AttentionShape(queries: n, keys: n, depth: depth, valueDepth: depth, causal: causal), parameters)
        let flops = cost.flops * Double(heads)
        let speedup = exactTime.map { $0 / median }
        points.append([
          "n": n, "variant": text, "median_ms": median, "gflop": flops / 1e9, "gflops_per_s": flops / median / 1e6,
          "speedup_over_softmax": speedup ?? NSNull(),
        ])
        if format == .table {
          print(String(n).padding(toLength: 9, withPad: " ", startingAt: 0) + text.padding(toLength: 28, withPad: " ", startingAt: 0)
            + String(format: " %10.2f %9.3f %9.1f   ", median, flops / 1e9, flops / median / 1e6) + (speedup.map { String(format: "%.2f×", $0) } ?? "-"))
        }
      }
    }
    if format == .json {
      let object: [String: Any] = ["heads": heads, "depth": depth, "causal": causal, "threads": Parallel.threads, "points": points]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
    }
  }
}
