import ArgumentParser
import AttncONNX
import AttncRuntime
import AttncTensor
import Foundation

/// `--input-shape name=d0,d1,...`, repeatable.
struct ShapeOptions: ParsableArguments {
  @Option(help: ArgumentHelp(
    "Override an input's declared dims: name=d0,d1,... (numbers or symbol names). Repeatable.",
      valueName: "name=dims"))
  var inputShape: [String] = []

  @Option(help: ArgumentHelp(
    "Pin a bool graph input that chooses an If's branch: name=true|false (Optimum's decoder_model_merged.onnx: use_cache_branch=true for the steps on a cache, =false for the first). The plan holds that branch only and refuses a run that feeds the other value. Repeatable.",
    valueName: "name=bool"))
  var branch: [String] = []

  /// The overrides as import options.
  func importOptions() throws -> ImportOptions {
    var shapes: [String: [Dim]] = [:]
    for text in inputShape {
      guard let equals = text.lastIndex(of: "=") else {
        throw ValidationError("--input-shape '\(text)' must look like name=d0,d1,...")
      }
      let name = String(text[..<equals])
      let list = text[text.index(after: equals)...]
      guard !name.isEmpty else {
        throw ValidationError("--input-shape '\(text)' has no input name before '='")
      }
      var dims: [Dim] = []
      if !list.isEmpty {
        for part in list.split(separator: ",", omittingEmptySubsequences: false) {
          let token = part.trimmingCharacters(in: .whitespaces)
          if let value = Int(token), value >= 0 {
            dims.append(Dim(value))
          } else if let first = token.first, first.isLetter || first == "_",
            token.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" })
          {
            dims.append(.symbol(token))
          } else {
            throw ValidationError(
              "--input-shape '\(text)': '\(token)' is not a non-negative number or a symbol name")
          }
        }
      }
      guard shapes[name] == nil else {
        throw ValidationError("--input-shape gives '\(name)' twice")
      }
      shapes[name] = dims
    }
    var pinned: [String: Bool] = [:]
    for text in branch {
      let parts = text.split(separator: "=", omittingEmptySubsequences: false).map(String.init)
      guard parts.count == 2, !parts[0].isEmpty, let value = ["true": true, "1": true, "false": false, "0": false][parts[1].lowercased()] else {
        throw ValidationError("--branch '\(text)' must look like name=true or name=false")
      }
      guard pinned[parts[0]] == nil else { throw ValidationError("--branch gives '\(parts[0])' twice") }
      pinned[parts[0]] = value
    }
    return ImportOptions(inputShapes: shapes, branches: pinned)
  }
}

/// `--format table|json`.
enum OutputFormat: String, ExpressibleByArgument, CaseIterable {
  case table, json
}

/// `--threads`, for every command that runs kernels.
struct ThreadOptions: ParsableArguments {
  @Option(help: "Threads: attnc's pool for its loops and the GEMMs it splits.")
  var threads: Int = 2

  func validate() throws {
    guard threads >= 1 else { throw ValidationError("--threads must be at least 1") }
  }

  /// Sizes the thread pool and OpenBLAS (`configureThreads`).
  func configure() { configureThreads(threads) }
}

/// What `run` and `verify` share: a plan's inputs from files or an ONNX test-data folder, and
/// the threads.
struct PlanInputOptions: ParsableArguments {
  @Option(name: .customLong("input"), help: ArgumentHelp("An input: name=FILE (.npy or .pb). Repeatable.", valueName: "name=file"))
  var inputs: [String] = []

  @Option(help: "An ONNX test_data_set_N folder: its input_i.pb are fed (run also checks the outputs against its output_i.pb).")
  var testData: String?

  @OptionGroup var threading: ThreadOptions

  /// Sizes the thread pool, then reads the plan at `path` and its inputs.
  /// - Throws: the plan's or an input's error, naming the file.
  func load(_ path: String) throws -> (plan: Plan, inputs: [HostTensor]) {
    threading.configure()
    let plan = try withContext(path) { try PlanFile.read(path) }
    return try (plan, feeds(for: plan))
  }

  /// The inputs of `plan` from `--input` and `--test-data`.
  func feeds(for plan: Plan) throws -> [HostTensor] { try InputFeeds.load(for: plan, inputs: inputs, testData: testData) }
}
