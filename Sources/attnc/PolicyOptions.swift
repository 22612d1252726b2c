import ArgumentParser
import AttncCost
import AttncKit
import AttncPasses
import AttncTensor
import Foundation

extension AttentionPolicy: ExpressibleByArgument {}
extension LinearPrecisionChoice: ExpressibleByArgument {}

/// The cost-model options `convert`, `inspect` and `bench` share.
struct PolicyOptions: ParsableArguments {
  @Option(help: Help.policy) var policy: AttentionPolicy = .balanced
  @Option(help: Help.seqLen) var seqLen: String?
  @Option(help: Help.maxError) var maxError: Double = 0.05
  @Option(help: Help.maxOutputError) var maxOutputError: Double = 0.02
  @Option(help: Help.memoryBudget) var memoryBudget: String?
  @Option(help: Help.calibration) var calibration: String?
  @Option(help: Help.layers) var layers: String?
  @Option(help: Help.variant) var variant: String?
  @Option(help: Help.tokenMerge) var tokenMerge: String?
  @Option(help: Help.linearPrecision) var linearPrecision: LinearPrecisionChoice?
  @Option(help: Help.searchTime) var searchTime: Double = 100
  @Option(help: Help.outputs) var outputs: String?

  /// The options as the compiler takes them.
  /// - Throws: `.usage` for a malformed --seq-len, --memory-budget, --layers or limit.
  func conversion() throws -> ConversionOptions {
    var options = ConversionOptions(policy: policy)
    if let variant {
      do { try VariantCatalog.check(variant) } catch let error as AttncError { throw AttncError(.usage, "--variant '\(variant)': \(error.message)") }
      options.variant = variant
    }
    if let layers { options.layers = try LayerOverrides(parsing: layers) }
    if let seqLen {
      if seqLen == "auto" {
        options.seqLen = .auto
      } else if let n = Int(seqLen), n >= 1 {
        options.seqLen = .fixed(n)
      } else {
        throw AttncError(.usage, "--seq-len '\(seqLen)' is not a positive number or 'auto'")
      }
    }
    guard maxError >= 0, maxOutputError >= 0 else { throw AttncError(.usage, "--max-error and --max-output-error must be ≥ 0") }
    options.limits.maxError = maxError
    options.limits.maxOutputError = maxOutputError
    if let memoryBudget { options.limits.memoryBudget = try Self.bytes(memoryBudget) }
    options.calibration = calibration
    if let tokenMerge { options.tokenMerge = try TokenMergeSchedule(parsing: tokenMerge) }
    options.linearPrecision = linearPrecision
    guard searchTime > 0 else { throw AttncError(.usage, "--search-time must be > 0 seconds") }
    options.searchSeconds = searchTime
    if let outputs {
      let names = outputs.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
      guard !names.isEmpty else { throw AttncError(.usage, "--outputs needs at least one output name") }
      options.judgedOutputs = names
    }
    return options
  }

  /// `123`, `64KB`, `512MB`, `2GB` (powers of 1024).
  static func bytes(_ text: String) throws -> Double {
    let units: [(String, Double)] = [("GB", 1_073_741_824), ("MB", 1_048_576), ("KB", 1024), ("B", 1)]
    let upper = text.uppercased()
    for (suffix, scale) in units where upper.hasSuffix(suffix) {
      if let value = Double(upper.dropLast(suffix.count)), value >= 0 { return value * scale }
    }
    if let value = Double(upper), value >= 0 { return value }
    throw AttncError(.usage, "--memory-budget '\(text)' is not a size (e.g. 64MB)")
  }
}

extension PolicyOptions {
  /// Each option's help, one line an option, in the order `--help` lists them.
  enum Help {
    static let policy = ArgumentHelp("exact: fused exact attention everywhere. fastest: least predicted time per layer, whatever the error. balanced: least predicted time with error within --max-error, then an end-to-end check against --max-output-error. accurate: least error within --memory-budget.", valueName: "exact|fastest|balanced|accurate")
    static let seqLen = ArgumentHelp("Plan for this many tokens, or 'auto' (the default for a symbolic length): per layer, a table of key-length ranges to variants, picked per call from the predicted crossovers.", valueName: "N|auto")
    static let maxError: ArgumentHelp = "Largest relative attention-output error per layer under balanced."
    static let maxOutputError: ArgumentHelp = "Largest relative error of the model's outputs on the calibration inputs under balanced."
    static let memoryBudget = ArgumentHelp("Largest extra memory one attention call may hold under accurate: bytes, or with KB/MB/GB.", valueName: "size")
    static let calibration = ArgumentHelp("Inputs to measure attention error on: test_data_set_N folders (input_i.pb) or folders of <input>.npy files. Without it attnc generates inputs (errors labelled 'synthetic').", valueName: "dir")
    static let layers = ArgumentHelp("Force variants on ranges of attention layers, e.g. 0-3:scatterbrain,4-:softmax (after the policy's choice).", valueName: "ranges")
    static let variant = ArgumentHelp("Put one variant on every matched layer that can honour it (overrides the policy): NAME or NAME:key=value,... (performer:m=256, fastmax:p=1).", valueName: "variant")
    static let tokenMerge = ArgumentHelp("Merge tokens between transformer blocks (ToMe; encoders only): r per block, r:decreasing (2r falling to 0), a list r1,r2,... or auto (the cost model picks r per block within --max-output-error). The first token never merges; padding stays out.", valueName: "schedule")
    static let linearPrecision = ArgumentHelp("The linear layers' operands. f32: float32. bf16: weights rounded to bfloat16 when packed (half their bytes) and activations per call, sums in float32 (AVX-512 BF16 where the CPU has it; about 0.2–0.5% output error). auto: bf16 when the cost model predicts it faster and the outputs on the calibration inputs stay within --max-output-error of f32's (that error then counts against the budget). Default: auto under --policy balanced and fastest, f32 otherwise.", valueName: "f32|bf16|auto")
    static let searchTime = ArgumentHelp("Most seconds --token-merge auto spends measuring schedules on the calibration inputs (each measurement runs the model once; the default makes a conversion take about 2 minutes); it keeps the best schedule found by then.", valueName: "seconds")
    static let outputs = ArgumentHelp("The outputs --max-output-error applies to (default: every floating-point output): name a pooled or class-token output when that is what you use; per-token outputs lose accuracy with every token merge.", valueName: "name,...")
  }
}
