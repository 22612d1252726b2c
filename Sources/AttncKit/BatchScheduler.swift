import AttncTensor
import Foundation

/// Runs `BatchConversion.convertOne` over many models on up to `jobs` threads, never starting a
/// conversion whose estimated memory would take the running ones past `memoryBudget`.
///
/// Each conversion holds its model's weights about three times at its peak (measured: 36 MB
/// bert_mini peaks 104 MB above the process's baseline, 22 MB gpt2_mini 63 MB), so a model is
/// estimated at `estimateFactor` × its bytes plus `estimateOverhead`. A model estimated above
/// the whole budget still runs, alone.
public struct BatchScheduler: Sendable {
  /// Most conversions at once (at least 1).
  public var jobs: Int
  /// Bytes the running conversions' estimates may add up to.
  public var memoryBudget: Int

  /// Multiplies a model's bytes (file plus external data) in its memory estimate.
  public static let estimateFactor = 4
  /// Added to every estimate: graph, plan and buffers that do not scale with the weights.
  public static let estimateOverhead = 64 << 20

  public init(jobs: Int, memoryBudget: Int = BatchScheduler.defaultMemoryBudget()) {
    self.jobs = max(1, jobs)
    self.memoryBudget = memoryBudget
  }

  /// The memory a conversion of `input` is assumed to need.
  public static func estimate(_ input: BatchInput) -> Int {
    input.bytes.multipliedReportingOverflow(by: estimateFactor).partialValue + estimateOverhead
  }

  /// Three quarters of the memory available now (`MemAvailable` in /proc/meminfo, else the
  /// machine's physical memory); `ATTNC_MEMORY_BUDGET` (bytes, or with a K, M or G suffix)
  /// overrides it.
  public static func defaultMemoryBudget(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> Int {
    if let text = environment["ATTNC_MEMORY_BUDGET"], let bytes = parseBytes(text) { return bytes }
    let available = availableMemory() ?? Int(clamping: ProcessInfo.processInfo.physicalMemory)
    return available / 4 * 3
  }

  /// `MemAvailable` from /proc/meminfo, in bytes; nil where there is none.
  static func availableMemory() -> Int? {
    guard let text = try? String(contentsOfFile: "/proc/meminfo", encoding: .utf8) else {
      return nil
    }
    for line in text.split(separator: "\n") where line.hasPrefix("MemAvailable:") {
      let fields = line.split(separator: " ")
      if fields.count >= 2, let kilobytes = Int(fields[1]) { return kilobytes * 1024 }
    }
    return nil
  }

  /// `123`, `512K`, `64M`, `2G` in bytes; nil when it does not parse.
  static func parseBytes(_ text: String) -> Int? {
    let units: [Character: Int] = ["K": 1 << 10, "M": 1 << 20, "G": 1 << 30]
    if let last = text.uppercased().last, let unit = units[last] {
      return Int(text.dropLast()).map { $0 * unit }
    }
    return Int(text)
  }

  /// What the scheduler reports while it runs, from its worker threads (one at a time).
  public enum Event: Sendable {
    /// Model `index` of the inputs entered stage `stage` (`check`, `compile`, `write`).
    case stage(index: Int, stage: String)
    /// Model `index` is done.
    case finished(index: Int, result: ModelResult)
  }

  /// Converts (or skips) every input into `outputDirectory`; returns one result per input, in
  /// input order. A failure is recorded in its result and never stops the others.
  /// - Parameter events: called for each stage and result, serialized by the scheduler.
  public func run(
    _ inputs: [BatchInput], outputDirectory: String, settings: BatchSettings,
    events: @escaping @Sendable (Event) -> Void = { _ in }
  ) -> [ModelResult] {
    let state = State(estimates: inputs.map(Self.estimate), budget: memoryBudget)
    let batchStart = Date()
    let group = DispatchGroup()
    for _ in 0..<min(jobs, inputs.count) {
      group.enter()
      let worker = Thread {
        while let index = state.next() {
          let input = inputs[index]
          let output = input.output(in: outputDirectory)
          let start = Date()
          var result: ModelResult
          do {
            result = try BatchConversion.convertOne(
              input: input, output: output, settings: settings,
              stage: { stage in state.report { events(.stage(index: index, stage: stage)) } })
          } catch {
            var failed = ModelResult(
              input: input.path, output: output, status: .failed, inputBytes: input.bytes,
              seconds: Date().timeIntervalSince(start))
            failed.error = "\(error)"
            result = failed
          }
          result.started = start.timeIntervalSince(batchStart)
          state.finish(index, result) { events(.finished(index: index, result: result)) }
        }
        group.leave()
      }
      // As much stack as the main thread: the passes recurse over deep graphs.
      worker.stackSize = 8 << 20
      worker.start()
    }
    group.wait()
    return state.results.enumerated().map { index, result in
      result
        ?? ModelResult(
          input: inputs[index].path, output: inputs[index].output(in: outputDirectory),
          status: .failed, inputBytes: inputs[index].bytes, seconds: 0)
    }
  }

  // MARK: - Shared state

  /// The queue of models not started yet and the memory the running ones hold, under a lock.
  final class State: @unchecked Sendable {
    let estimates: [Int]
    let budget: Int
    private let condition = NSCondition()
    private var pending: [Int]
    private var reserved = 0
    private var running = 0
    private(set) var results: [ModelResult?]

    init(estimates: [Int], budget: Int) {
      self.estimates = estimates
      self.budget = budget
      pending = Array(estimates.indices)
      results = Array(repeating: nil, count: estimates.count)
    }

    /// The next model to convert, waiting until one fits the budget; nil when none is left.
    func next() -> Int? {
      condition.lock()
      defer { condition.unlock() }
      while true {
        if pending.isEmpty { return nil }
        if let position = Self.pick(
          pending.map { estimates[$0] }, reserved: reserved, running: running, budget: budget)
        {
          let index = pending.remove(at: position)
          reserved += estimates[index]
          running += 1
          return index
        }
        condition.wait()
      }
    }

    /// Records `result`, frees its reservation and reports it (under the lock, so reports
    /// never interleave).
    func finish(_ index: Int, _ result: ModelResult, report: () -> Void) {
      condition.lock()
      defer { condition.unlock() }
      results[index] = result
      reserved -= estimates[index]
      running -= 1
      report()
      condition.broadcast()
    }

    /// Runs `body` under the lock.
    func report(_ body: () -> Void) {
      condition.lock()
      defer { condition.unlock() }
      body()
    }

    /// The position in `pending` (estimates in input order) of the first model that fits
    /// next to `reserved` bytes within `budget`; the first model when nothing runs, even if it
    /// exceeds the budget alone; nil when the caller must wait for a running one to finish.
    static func pick(_ pending: [Int], reserved: Int, running: Int, budget: Int) -> Int? {
      if running == 0 { return pending.isEmpty ? nil : 0 }
      return pending.firstIndex { reserved + $0 <= budget }
    }
  }
}
