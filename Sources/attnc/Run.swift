import ArgumentParser
import AttncCost
import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// `attnc run <plan>`: execute a plan on inputs from files or a test-data folder.
struct Run: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Run a plan on inputs and write or check its outputs.",
    discussion: """
      Inputs come from --input name=FILE (.npy or ONNX TensorProto .pb) or from --test-data, an \
      ONNX test_data_set_N folder whose input_i.pb are fed in order and whose output_i.pb are \
      compared with the results: element by element (|actual - expected| <= atol + rtol*|expected|) \
      for a float32 model; by relative Frobenius error per output (||actual - expected|| / \
      ||expected|| <= --max-relative-error) when the model computes in float16 or bfloat16 or is \
      quantized (attnc computes it in float32; the reference rounds to the narrow type). The rule \
      used is printed first. Exit status 0 when every output passes, 1 otherwise.

      Examples:
        attnc run model.attnc --test-data samples/bert_tiny/test_data_set_0
        attnc run model.attnc --input input_ids=ids.npy --input attention_mask=mask.npy --output-dir out
        attnc run model.attnc --test-data test_data_set_0 --warmup 1 --repeat 20 --stats
      """)

  @Argument(help: "The plan file written by 'attnc convert'.")
  var plan: String

  @OptionGroup var feeds: PlanInputOptions

  @Option(help: "Write each output as <name>.npy into this folder.")
  var outputDir: String?

  @Option(name: .customLong("repeat"), help: "Run this many times (timing uses the median).")
  var repetitions: Int = 1

  @Option(help: ArgumentHelp(
    "Untimed runs before the timed ones. A process's first run also allocates its buffers and first touches the weights (on the real ViT-S at 896 3-10% slower than the next): use --warmup 1 to time the steady state, as ONNX Runtime's and OpenVINO's benchmarks do.",
    valueName: "n"))
  var warmup: Int = 0

  @Flag(help: "Print the median wall time and the kernels that took longest.")
  var stats = false

  @Option(help: "Relative tolerance for --test-data.")
  var rtol: Double = 1e-3

  @Option(help: "Absolute tolerance for --test-data.")
  var atol: Double = 1e-5

  @Option(help: "For a float16, bfloat16 or int8 model: the largest relative Frobenius error per output that --test-data accepts.")
  var maxRelativeError: Double = ParityRule.lowPrecisionLimit

  func validate() throws {
    guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1") }
    guard warmup >= 0 else { throw ValidationError("--warmup must be 0 or more") }
    guard maxRelativeError > 0 else { throw ValidationError("--max-relative-error must be positive") }
  }

  func run() throws {
    let (loaded, arguments) = try feeds.load(plan)
    let interpreter = try withContext(plan) { try Interpreter(plan: loaded) }
    var times: [Double] = []
    var outputs: [HostTensor] = []
    for run in 0..<(warmup + repetitions) {
      let start = DispatchTime.now().uptimeNanoseconds
      outputs = try withContext(plan) { try interpreter.run(arguments, profile: stats) }
      if run >= warmup { times.append(Double(DispatchTime.now().uptimeNanoseconds - start) / 1e6) }
    }
    let outputNames = loaded.outputs.map { loaded.slots[$0].name }
    if let outputDir {
      try FileManager.default.createDirectory(atPath: outputDir, withIntermediateDirectories: true)
      for (name, tensor) in zip(outputNames, outputs) {
        let safe = name.map { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" || $0 == "." ? $0 : "_" }
        try AtomicFile.write(try NPY.encode(tensor), to: URL(fileURLWithPath: outputDir).appendingPathComponent(String(safe) + ".npy").path)
      }
    }
    if stats {
      let sorted = times.sorted()
      let warmed = warmup > 0 ? " after \(warmup) untimed" : ""
      print(
        String(format: "wall time: median %.3f ms over %d runs", times.median, sorted.count) + warmed
          + String(format: " (min %.3f, max %.3f), %d threads", sorted.first ?? 0, sorted.last ?? 0, ProcessSetup.threads))
      if let arena = interpreter.lastArena {
        print(String(format: "memory: arena %.2f MiB planned for these input shapes (%d values, %d written in place; at least %.2f MiB alive at once), %.2f MiB peak outside the arena", Double(arena.bytes) / 1_048_576, arena.offsets.count, arena.inPlace, Double(arena.liveBytes) / 1_048_576, Double(interpreter.peakBytesOutsideArena) / 1_048_576))
      } else {
        print(String(format: "memory: no arena (ATTNC_ARENA=0), %.2f MiB peak of values alive at once", Double(interpreter.peakBytes) / 1_048_576))
      }
      let top = interpreter.profile.sorted { $0.value > $1.value }.prefix(8)
      let total = interpreter.profile.values.reduce(0, +)
      print("top kernels (last run):")
      for (kernel, seconds) in top {
        let padded = kernel.padding(toLength: 22, withPad: " ", startingAt: 0)
        print("  \(padded)" + String(format: " %9.3f ms  %5.1f%%", seconds * 1e3, total > 0 ? 100 * seconds / total : 0))
      }
    }
    guard let testData = feeds.testData else {
      if outputDir == nil && !stats {
        for (name, tensor) in zip(outputNames, outputs) { print("\(name): \(tensor.dtype)\(tensor.shape)") }
      }
      return
    }
    var failed = false
    let rule = ParityRule.forPlan(loaded, relative: rtol, absolute: atol, frobeniusLimit: maxRelativeError)
    print("comparing: \(rule)")
    for (index, (name, tensor)) in zip(outputNames, outputs).enumerated() {
      let path = URL(fileURLWithPath: testData).appendingPathComponent("output_\(index).pb").path
      guard FileManager.default.fileExists(atPath: path) else { continue }
      let expected = try TensorFiles.readProto(path)
      let (comparison, passed) = rule.compare(tensor, expected)
      failed = failed || !passed
      let status = passed ? "ok  " : "FAIL"
      print("\(status) \(name): " + String(format: "max abs error %.3g, max rel error %.3g, relative error %.3g", comparison.maxAbsolute, comparison.maxRelative, comparison.relativeFrobenius))
    }
    if failed {
      throw AttncError(.verification, "outputs differ from \(testData) beyond \(rule)")
    }
  }
}
