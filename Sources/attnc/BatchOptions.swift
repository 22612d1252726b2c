import ArgumentParser
import AttncKit
import AttncONNX
import AttncTensor
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The options of `attnc convert` that only batch conversion takes, and the batch run itself.
struct BatchOptions: ParsableArguments {
  @Option(help: "Batch: models converted at once, within the machine's memory (default 1).")
  var jobs: Int?

  @Option(
    help: ArgumentHelp(
      "Batch: also write the per-model results as JSON to this file.", valueName: "file.json"))
  var report: String?

  @Option(
    help: ArgumentHelp(
      "Batch: convert only the i-th of n deterministic parts of the inputs (1 <= i <= n).",
      valueName: "i/n"))
  var shard: String?

  @Flag(help: "Batch: print only failures and the summary line.")
  var quiet = false

  @Flag(help: "Batch: also print each model's stage timings and why it was converted.")
  var verbose = false

  /// Whether `attnc convert` runs in batch mode: more than one argument, a folder or a glob
  /// among them, `-o` naming an existing folder (or ending in `/`), or a batch-only option.
  /// Otherwise it is the single conversion of one `.onnx` file, `-o` naming the plan file.
  func isBatch(_ arguments: [String], output: String?) -> Bool {
    if arguments.count > 1 { return true }
    if jobs != nil || report != nil || shard != nil || quiet || verbose { return true }
    if let output {
      var isFolder: ObjCBool = false
      if output.hasSuffix("/")
        || (FileManager.default.fileExists(atPath: output, isDirectory: &isFolder)
          && isFolder.boolValue)
      {
        return true
      }
    }
    return arguments.contains { argument in
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: argument, isDirectory: &isFolder) {
        return isFolder.boolValue
      }
      return BatchInputs.isPattern(argument)
    }
  }

  /// Converts every model `arguments` name into `output` (see `Convert`'s discussion).
  /// - Throws: `AttncError` `.usage` for bad arguments (nothing converted), `.batchFailure`
  ///   when any model failed (after all were tried and reported), `.io` when the report
  ///   cannot be written.
  func run(_ arguments: [String], output: String?, settings: () throws -> BatchSettings) throws {
    guard let output, !output.isEmpty else {
      throw AttncError(
        .usage, "batch conversion needs -o OUTDIR, the folder the plans are written to")
    }
    var isFolder: ObjCBool = false
    if FileManager.default.fileExists(atPath: output, isDirectory: &isFolder), !isFolder.boolValue {
      throw AttncError(.usage, "-o '\(output)' is a file; batch conversion writes into a folder")
    }
    let jobs = self.jobs ?? 1
    guard jobs >= 1 else { throw AttncError(.usage, "--jobs must be at least 1, got \(jobs)") }
    guard !(quiet && verbose) else {
      throw AttncError(.usage, "--quiet and --verbose cannot be used together")
    }
    if let report {
      let folder = URL(fileURLWithPath: report).deletingLastPathComponent().path
      var isFolder: ObjCBool = false
      guard FileManager.default.fileExists(atPath: folder, isDirectory: &isFolder),
        isFolder.boolValue
      else {
        throw AttncError(.usage, "--report '\(report)': the folder '\(folder)' does not exist")
      }
    }
    let shard = try self.shard.map(BatchShard.init(parsing:))
    let settings = try settings()
    var inputs = try BatchInputs.discover(arguments)
    if let shard { inputs = shard.select(inputs) }

    let scheduler = BatchScheduler(jobs: min(jobs, max(inputs.count, 1)))
    if scheduler.jobs > 1 {
      // One OpenBLAS thread per core between the conversions running at once (attnc's pool
      // stays at one thread: it serves one caller at a time).
      ProcessSetup.setBLASThreads(max(1, ProcessInfo.processInfo.activeProcessorCount / scheduler.jobs))
    } else {
      ProcessSetup.configureThreads(ProcessSetup.cores)
    }
    let progress = BatchProgress(
      inputs: inputs, verbosity: quiet ? .quiet : verbose ? .verbose : .normal,
      terminal: isatty(STDOUT_FILENO) == 1)
    let signals = InterruptHandler.install { signal in
      InterruptCleanup.shared.removeAll()
      progress.interrupted()
      Glibc.exit(128 + signal)
    }
    progress.start(jobs: scheduler.jobs, shard: shard)
    let start = Date()
    let results = scheduler.run(inputs, outputDirectory: output, settings: settings) { event in
      progress.handle(event)
    }
    let report = BatchReport(
      results: results, options: settings.options, seconds: Date().timeIntervalSince(start))
    progress.finish(report)
    signals.remove()
    if let path = self.report { try report.write(to: path) }
    if report.failed > 0 {
      throw AttncError(
        .batchFailure, "\(report.failed) of \(report.results.count) models failed")
    }
  }
}

/// Runs a handler on SIGINT, SIGTERM and SIGHUP instead of dying at once, so a batch can
/// remove its temporary files first.
final class InterruptHandler: @unchecked Sendable {
  static let signals: [Int32] = [SIGINT, SIGTERM, SIGHUP]
  private var sources: [DispatchSourceSignal] = []

  /// Installs `handler` (called on a background queue with the signal's number).
  static func install(_ handler: @escaping @Sendable (Int32) -> Void) -> InterruptHandler {
    let installed = InterruptHandler()
    let queue = DispatchQueue(label: "attnc.signals")
    for number in signals {
      signal(number, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: number, queue: queue)
      source.setEventHandler { handler(number) }
      source.resume()
      installed.sources.append(source)
    }
    return installed
  }

  /// Restores the default actions.
  func remove() {
    for source in sources { source.cancel() }
    for number in Self.signals { signal(number, SIG_DFL) }
  }
}
