import ArgumentParser
import AttncKit
import AttncRuntime
import AttncTensor
import Foundation

/// `attnc bench decode <model>`: prefill time and decode tokens per second on a KV cache.
struct BenchDecode: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "decode",
    abstract: "Time a decoder with a KV cache: prefill, then single-token steps.",
    discussion: """
      The model takes token ids, optionally attention_mask and position_ids, and past keys and \
      values ([B, H, past, d], inputs named past…) and returns present keys and values (outputs \
      named present…, paired with the past inputs in order), as exporters write decoders with a \
      cache. bench decode prefills --prefill tokens from an empty cache (--repeat times; the \
      median is reported), then runs --steps single-token steps, each feeding its present keys \
      and values back as the next step's past and its greedy token (largest last logit) as the \
      next input, and reports the median step time and tokens per second.

      Example:
        attnc bench decode gpt2_kv/model.onnx --prefill 2048 --steps 32
      """)

  @Argument(help: "An ONNX decoder with past/present inputs and outputs, or its plan.")
  var model: String

  @Option(help: "Prompt tokens to prefill.")
  var prefill: Int = 128

  @Option(help: "Single-token decode steps after the prefill.")
  var steps: Int = 32

  @OptionGroup var plan: BenchPlanOptions

  @Option(name: .customLong("repeat"), help: "Prefill runs (the median is reported).")
  var repetitions: Int = 3

  @Option(help: "Output format: table or json.")
  var format: String = "table"

  @Flag(help: "Also print the kernels that took longest in the last prefill and over the decode steps.")
  var stats = false

  func validate() throws {
    guard repetitions >= 1 else { throw ValidationError("--repeat must be at least 1") }
    guard prefill >= 1 else { throw ValidationError("--prefill must be at least 1") }
    guard steps >= 1 else { throw ValidationError("--steps must be at least 1") }
    guard ["table", "json"].contains(format) else { throw ValidationError("--format must be table or json") }
  }

  func run() throws {
    let (plan, interpreter) = try self.plan.load(model)
    let result = try withContext(model) {
      try DecodeBenchmark.run(plan, interpreter: interpreter, prefill: prefill, steps: steps, repeats: repetitions, profile: stats)
    }
    let tokensPerSecond = 1e3 / result.stepMedian
    if format == "json" {
      let object: [String: Any] = [
        "model": model, "threads": ProcessSetup.threads, "prefill": prefill, "steps": steps,
        "prefill_ms": result.prefillMilliseconds, "prefill_median_ms": result.prefillMedian,
        "step_ms": result.stepMilliseconds, "step_median_ms": result.stepMedian, "tokens_per_s": tokensPerSecond,
        "tokens": result.tokens,
      ]
      let data = try JSONSerialization.data(withJSONObject: object, options: [.prettyPrinted, .sortedKeys])
      print(String(decoding: data, as: UTF8.self))
      return
    }
    let times = result.stepMilliseconds.sorted()
    print("model \(model), \(ProcessSetup.threads) threads")
    print("prefill  \(prefill) tokens: median " + String(format: "%.2f ms", result.prefillMedian)
      + " of \(result.prefillMilliseconds.count)")
    print("decode   \(times.count) steps on \(prefill)…\(prefill + times.count - 1) cached tokens: median "
      + String(format: "%.2f ms (min %.2f, max %.2f), %.1f tokens/s", result.stepMedian, times.first ?? 0, times.last ?? 0, tokensPerSecond))
    if stats {
      for (title, profile) in [("prefill (last run)", result.prefillProfile), ("decode (all steps)", result.stepProfile)] {
        let total = profile.values.reduce(0, +)
        print("top kernels, \(title):")
        for (kernel, seconds) in profile.sorted(by: { $0.value > $1.value }).prefix(8) {
          print("  " + kernel.padding(toLength: 22, withPad: " ", startingAt: 0)
            + String(format: " %9.3f ms  %5.1f%%", seconds * 1e3, total > 0 ? 100 * seconds / total : 0))
        }
      }
    }
  }
}
