import ArgumentParser
import AttncCost
import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// `attnc bench`: model latency (default), attention-variant quality and scaling.
struct Bench: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Benchmarks: model latency, decoding, attention-variant quality and scaling.",
    discussion: """
      Examples:
        attnc bench ../shared/models/bert_mini_legacy/model.onnx --seq 128 --seq 512
        attnc bench ../shared/models/gpt2_mini_dynamo/model.onnx --seq 8192 --variant performer
        attnc bench decode gpt2_kv/model.onnx --prefill 2048 --steps 32
        attnc bench quality --attention-data ../shared/attention-data
        attnc bench scaling --seq 1024 --seq 4096 --seq 16384
      """,
    subcommands: [BenchModel.self, BenchDecode.self, BenchQuality.self, BenchScaling.self, BenchCostModel.self], defaultSubcommand: BenchModel.self)
}

/// `attnc bench [model] <model>`: latency of a model or plan at several sequence lengths, on synthetic inputs.
struct BenchModel: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model",
    abstract: "Time a model or plan at several sequence lengths and compare with sgemm peak.",
    discussion: """
      Converts an .onnx model in memory under --policy (or loads an .attnc plan), binds the \
      symbols of its inputs (names containing "batch" to --batch, every other symbol to each \
      --seq; --dim overrides one), feeds synthetic inputs (token ids 0..99, all-ones masks, \
      seeded normal floats), and reports the median wall time of --repeat runs after one \
      warm-up. It also measures this machine's sgemm rate (1024³, same threads) and gives each \
      configuration's matrix-product rate as a fraction of it, and the cost model's predicted time \
      of the whole plan (every call by its own cost, attention by its variant's fitted formula) \
      beside the measured one.

      Examples:
        attnc bench ../shared/models/bert_mini_legacy/model.onnx --seq 128 --seq 512 --seq 2048
        attnc bench model.attnc --seq 2048 --threads 2 --repeat 10 --format json
      """)

  @Argument(help: "An ONNX model (.onnx) or a plan written by 'attnc convert'.")
  var model: String

  @Option(name: .customLong("seq"), help: "A sequence length to time. Repeatable (default 128).")
  var sequences: [Int] = []

  @Option(help: "The batch size.")
  var batch: Int = 1

  @Option(name: .customLong("dim"), help: ArgumentHelp("Bind a symbol: NAME=VALUE. Repeatable.", valueName: "name=value"))
  var dims: [String] = []

  @OptionGroup var plan: BenchPlanOptions

  @Option(name: .customLong("repeat"), help: "Timed runs per configuration (the median is reported).")
  var repetitions: Int = 5

  @Option(help: ArgumentHelp("Attention variant when converting an .onnx model (as `convert --variant`).", valueName: "variant"))
  var variant: String?

  @Option(help: "Output format: table or json.")
  var format: String = "table"

  func validate() throws {
    guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1") }
    guard batch >= 1 else { throw ValidationError("--batch must be at least 1") }
    guard sequences.allSatisfy({ $0 >= 1 }) else { throw ValidationError("--seq must be at least 1") }
    guard ["table", "json"].contains(format) else { throw ValidationError("--format must be table or json") }
  }

  func run() throws {
    var overrides: [String: Int] = [:]
    for text in dims {
      let parts = text.split(separator: "=", maxSplits: 1).map(String.init)
      guard parts.count == 2, let value = Int(parts[1]), value >= 1 else {
        throw AttncError(.usage, "--dim '\(text)' must look like NAME=VALUE with VALUE ≥ 1")
      }
      overrides[parts[0]] = value
    }
    let (plan, interpreter) = try self.plan.load(model, variant: variant)
    let peak = Benchmark.sgemmPeak()
    let profile = try MachineProfile.current { FileHandleOutput.standardError($0 + "\n") }
    var results: [Benchmark.Result] = []
    for sequence in sequences.isEmpty ? [128] : sequences {
      let bindings = plan.symbolBindings(batch: batch, sequence: sequence, overrides: overrides)
      FileHandleOutput.standardError("timing \(model) at \(bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " "))…\n")
      var result = try withContext(model) {
        try Benchmark.time(plan, interpreter: interpreter, bindings: bindings, repeats: repetitions)
      }
      result.predicted = PlanCost.predictedSecondsByKernel(plan, bindings: bindings, profile: profile).values.reduce(0, +) * 1e3
      results.append(result)
    }
    if format == "json" {
      let entries = results.map { r -> [String: Any] in
        ["bindings": r.bindings, "median_ms": r.median, "min_ms": r.minimum, "max_ms": r.maximum,
         "matmul_gflop": r.flops / 1e9, "gflops_per_s": r.flops / r.median / 1e6,
         "fraction_of_sgemm_peak": r.flops / r.median / 1e-3 / peak, "peak_value_bytes": r.peakBytes,
         "predicted_ms": r.predicted ?? 0, "predicted_over_measured": (r.predicted ?? 0) / r.median,
         "kernel_ms": r.kernels, "kernel_gflop": r.kernelFLOPs.mapValues { $0 / 1e9 }]
      }
      let object: [String: Any] = ["model": model, "variant": variant ?? "softmax", "threads": ProcessSetup.threads, "sgemm_peak_gflops": peak / 1e9, "results": entries]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
      return
    }
    print("model \(model)\(variant.map { ", variant \($0)" } ?? ""), \(ProcessSetup.threads) threads, sgemm peak " + String(format: "%.1f GFLOP/s", peak / 1e9) + " (1024³)")
    print("bindings                  median ms    min ms    max ms   matmul GFLOP   GFLOP/s   of peak   peak values   predicted ms  pred/meas")
    for r in results {
      let label = r.bindings.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: " ")
      let rate = r.flops / (r.median / 1e3)
      print(label.padding(toLength: 24, withPad: " ", startingAt: 0)
        + String(format: " %10.2f %9.2f %9.2f %14.3f %9.1f %8.1f%% %10.1f MiB %14.2f %10.2f", r.median, r.minimum, r.maximum, r.flops / 1e9, rate / 1e9, 100 * rate / peak, Double(r.peakBytes) / 1_048_576, r.predicted ?? 0, (r.predicted ?? 0) / r.median))
    }
  }
}

/// What `bench` and `bench decode` share: the threads, and how an .onnx model becomes a plan.
struct BenchPlanOptions: ParsableArguments {
  @OptionGroup var threading: ThreadOptions

  @Option(help: "Policy when converting an .onnx model.")
  var policy: String = "exact"

  /// Sizes the thread pool, then converts `model` in memory (an .onnx model, under --policy and
  /// `variant`) or reads it (a plan), and makes its interpreter.
  func load(_ model: String, variant: String? = nil) throws -> (Plan, Interpreter) {
    threading.configure()
    let plan: Plan
    if model.hasSuffix(".onnx") {
      plan = try Compiler.plan(model, policy: policy, variant: variant).plan
    } else {
      plan = try withContext(model) { try PlanFile.read(model) }
    }
    return (plan, try withContext(model) { try Interpreter(plan: plan) })
  }
}
