import AttncKit
import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// What a batch conversion prints, all of it on stdout (errors that stop the command before
/// it starts go to stderr, like every command's).
///
/// - Not a terminal (CI, pipes, files): one line per finished model, flushed at once, then the
///   summary table and line.
/// - A terminal: the same lines, plus one status line at the bottom, redrawn in place four
///   times a second: models done/total, elapsed time and ETA, and each running model with its
///   stage (`check`, `compile`, `write`).
/// - `--quiet`: only failed models and the summary line. `--verbose`: also each model's stage
///   timings and why it was converted.
final class BatchProgress: @unchecked Sendable {
  enum Verbosity { case quiet, normal, verbose }

  private let inputs: [BatchInput]
  private let verbosity: Verbosity
  private let terminal: Bool
  private let totalWeight: Int
  private let lock = NSLock()
  private var start = Date()
  private var done = 0
  private var doneWeight = 0
  /// Seconds from the start to the last model finished; nil before the first.
  private var lastDone: Double?
  /// Running models by input index, with their stage, in start order.
  private var running: [(index: Int, stage: String)] = []
  private var statusShown = false
  private var timer: DispatchSourceTimer?

  init(inputs: [BatchInput], verbosity: Verbosity, terminal: Bool) {
    self.inputs = inputs
    self.verbosity = verbosity
    self.terminal = terminal && verbosity != .quiet
    totalWeight = inputs.reduce(0) { $0 + Self.weight($1) }
  }

  /// A model's share of the work, for the ETA: its bytes plus 1 MB for what does not scale
  /// with them (measured: 66 KB attention_op_causal takes 0.04 s, 36 MB bert_mini 0.9 s).
  private static func weight(_ input: BatchInput) -> Int { input.bytes + 1_000_000 }

  /// Prints the opening line and starts redrawing the status line (on a terminal).
  func start(jobs: Int, shard: BatchShard?) {
    lock.withLock {
      start = Date()
      if verbosity != .quiet {
        var line = "converting \(inputs.count) model\(inputs.count == 1 ? "" : "s")"
        if let shard { line += " (shard \(shard.index)/\(shard.count))" }
        line += ", \(jobs) at a time"
        emit(line)
      }
      drawStatus()
    }
    guard terminal else { return }
    let timer = DispatchSource.makeTimerSource(queue: DispatchQueue(label: "attnc.progress"))
    timer.schedule(deadline: .now() + 0.25, repeating: 0.25)
    timer.setEventHandler { [weak self] in
      guard let self else { return }
      self.lock.withLock { self.drawStatus() }
    }
    timer.resume()
    lock.withLock { self.timer = timer }
  }

  /// Updates the display for one scheduler event.
  func handle(_ event: BatchScheduler.Event) {
    lock.withLock {
      switch event {
      case .stage(let index, let stage):
        if let position = running.firstIndex(where: { $0.index == index }) {
          running[position].stage = stage
        } else {
          running.append((index, stage))
        }
      case .finished(let index, let result):
        running.removeAll { $0.index == index }
        done += 1
        doneWeight += Self.weight(inputs[index])
        lastDone = Date().timeIntervalSince(start)
        for line in lines(for: result) { emit(line) }
      }
      drawStatus()
    }
  }

  /// Stops the status line and prints the table (unless quiet) and the summary line.
  func finish(_ report: BatchReport) {
    lock.withLock {
      timer?.cancel()
      clearStatus()
      if verbosity != .quiet && !report.results.isEmpty {
        emit("")
        emit(report.table())
      }
      emit(report.summaryLine)
    }
  }

  /// Clears the status line and says how to continue (from the signal handler).
  func interrupted() {
    lock.withLock {
      timer?.cancel()
      clearStatus()
      fputs(
        "interrupted after \(done) of \(inputs.count) models; no partial plan was left, run the "
          + "same command again to continue\n", stderr)
    }
  }

  // MARK: - Lines

  /// The lines a finished model prints at this verbosity.
  private func lines(for result: ModelResult) -> [String] {
    let total = "\(inputs.count)"
    let counter =
      "[\(String(repeating: " ", count: total.count - "\(done)".count))\(done)/\(total)]"
    switch result.status {
    case .failed:
      return ["\(counter) failed     \(result.error ?? result.input)"]
    case .converted, .skipped:
      guard verbosity != .quiet else { return [] }
      var line =
        "\(counter) \(result.status.rawValue.padding(toLength: 10, withPad: " ", startingAt: 0)) "
      line += "\(result.input) -> \(result.output)"
      if let layers = result.layersMatched {
        line += " (\(layers) attention layer\(layers == 1 ? "" : "s"))"
      }
      var lines = [line]
      if verbosity == .verbose {
        let stages = result.stages.map { "\($0.name) \(BatchReport.duration($0.seconds))" }
        var detail = "    " + stages.joined(separator: ", ")
        if let reason = result.reason { detail += "; converted because \(reason)" }
        lines.append(detail)
      }
      return lines
    }
  }

  /// Prints `line` above the status line, flushed.
  private func emit(_ line: String) {
    clearStatus()
    fputs(line + "\n", stdout)
    fflush(stdout)
  }

  // MARK: - The status line

  private func drawStatus() {
    guard terminal, done < inputs.count else { return }
    let elapsed = Date().timeIntervalSince(start)
    var text = "[\(done)/\(inputs.count) done] \(BatchReport.duration(elapsed)) elapsed"
    if let lastDone {
      // The time the finished models took, scaled to the rest by weight, less the time since
      // the last one finished: counts down between completions instead of growing.
      let rest = Double(totalWeight - doneWeight) / Double(doneWeight) * lastDone
      text += ", ETA \(BatchReport.duration(max(0, rest - (elapsed - lastDone))))"
    } else {
      text += ", ETA —"
    }
    if !running.isEmpty {
      text +=
        " · "
        + running.map { "\(inputs[$0.index].relativePath) (\($0.stage))" }
        .joined(separator: ", ")
    }
    // Never wrap: a wrapped line cannot be redrawn in place.
    let width = terminalWidth()
    if text.count >= width { text = String(text.prefix(max(width - 2, 1))) + "…" }
    fputs("\r\u{1B}[2K" + text, stdout)
    fflush(stdout)
    statusShown = true
  }

  private func clearStatus() {
    guard statusShown else { return }
    fputs("\r\u{1B}[2K", stdout)
    statusShown = false
  }

  /// Columns of the terminal on stdout (80 when unknown).
  private func terminalWidth() -> Int {
    var size = winsize()
    guard ioctl(STDOUT_FILENO, UInt(TIOCGWINSZ), &size) == 0, size.ws_col > 0 else { return 80 }
    return Int(size.ws_col)
  }
}
