import AttncRuntime
import AttncTensor
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Converts the models of a batch, one at a time per call: the skip rule, the compile and the
/// write. `BatchScheduler` runs it for many models; `BatchReport` presents the results.
public enum BatchConversion {
  /// Converts `input` to the plan file `output`, unless an up-to-date plan is already there.
  ///
  /// An existing plan is up to date, and the model skipped, when its header reads back valid
  /// (`PlanFile.readHeader`: checksummed header, chunks filling the file exactly), it was made
  /// by this build (`Compiler.version`), with the same options (`settings.options`), from a
  /// model file with the same SHA-256. `settings.force` converts regardless. Anything else,
  /// including a truncated or tampered plan, is replaced.
  ///
  /// The plan is written to a temporary file and renamed (`PlanFile.write`), so `output` only
  /// ever holds a complete plan, old or new. Temporary files that killed runs left for
  /// `output` are removed first, even when the model is then skipped; the one being written is registered with
  /// `InterruptCleanup.shared` so a signal handler can remove it.
  ///
  /// Deterministic: the same model and settings give a byte-identical plan.
  /// - Parameters:
  ///   - stage: called with `check`, `compile`, then `write` as each begins.
  /// - Throws: `AttncError` naming the model (or the plan file, for write errors).
  /// - Complexity: reads the model once to hash it when a plan exists, then compiles it.
  public static func convertOne(
    input: BatchInput, output: String, settings: BatchSettings,
    stage: (String) -> Void = { _ in }
  ) throws -> ModelResult {
    let start = Date()
    var clock = start
    var result = ModelResult(
      input: input.path, output: output, status: .converted, inputBytes: input.bytes, seconds: 0)
    func finishStage(_ name: String) {
      let now = Date()
      result.stages.append((name, now.timeIntervalSince(clock)))
      clock = now
    }

    stage("check")
    removeStaleTemporaryFiles(for: output)
    if settings.force {
      result.reason = FileManager.default.fileExists(atPath: output) ? "--force" : "no plan yet"
    } else {
      switch try existingPlan(output, model: input.path, options: settings.options) {
      case .upToDate(let header):
        finishStage("check")
        result.status = .skipped
        result.describe(header.decisions)
        result.planBytes = BatchInputs.fileSize(output)
        result.seconds = Date().timeIntervalSince(start)
        return result
      case .stale(let reason):
        result.reason = reason
      }
    }
    finishStage("check")

    stage("compile")
    var plan = try Compiler.convert(input.path, options: settings.importOptions, conversion: settings.conversion).plan
    plan.options = settings.options
    finishStage("compile")

    stage("write")
    try withContext(output) {
      let folder = URL(fileURLWithPath: output).deletingLastPathComponent()
      do {
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
      } catch {
        throw AttncError(.io, "cannot create its folder: \(error.localizedDescription)")
      }
      let temporary = PlanFile.temporaryPath(for: output)
      InterruptCleanup.shared.register(temporary)
      defer { InterruptCleanup.shared.unregister(temporary) }
      try PlanFile.write(plan, to: output)
    }
    finishStage("write")
    result.describe(plan.decisions)
    result.planBytes = BatchInputs.fileSize(output)
    result.seconds = Date().timeIntervalSince(start)
    return result
  }

  /// What is at a plan path, as far as the skip rule is concerned.
  public enum ExistingPlan {
    /// A valid plan made by this build from the same model with the same options: its header.
    case upToDate(Plan)
    /// Anything else, and why.
    case stale(String)
  }

  /// Applies the skip rule of `convertOne` to the file at `output`.
  ///
  /// Cheap checks first: the header (not the weights) is read, and the model is hashed only
  /// when producer and options already match.
  /// - Throws: `AttncError` naming `model` when it cannot be read to hash it.
  public static func existingPlan(_ output: String, model: String, options: String) throws
    -> ExistingPlan
  {
    guard FileManager.default.fileExists(atPath: output) else { return .stale("no plan yet") }
    let header: Plan
    do {
      header = try PlanFile.readHeader(output)
    } catch {
      return .stale("the existing plan is unreadable: \(error)")
    }
    guard header.producer == Compiler.version else {
      return .stale("the existing plan was made by '\(header.producer)'")
    }
    guard header.options == options else {
      let previous = header.options.isEmpty ? "none recorded" : header.options
      return .stale("the options differ (the existing plan's: \(previous))")
    }
    let digest = try withContext(model) { () throws -> [UInt8] in
      let file = try MappedFile(path: model)
      return SHA256.digest(file.bytes)
    }
    guard header.sourceSHA256 == digest else {
      return .stale("the model changed since the existing plan was made")
    }
    return .upToDate(header)
  }

  /// Removes the temporary files `PlanFile.write` left beside `output` in runs that were
  /// killed: those whose process no longer exists on this machine. A file of a live process
  /// is left alone (another conversion may be writing it).
  static func removeStaleTemporaryFiles(for output: String) {
    let url = URL(fileURLWithPath: output)
    let folder = url.deletingLastPathComponent().path
    let name = url.lastPathComponent
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: folder) else { return }
    for entry in entries where PlanFile.isTemporary(entry, for: name) {
      guard let pid = Int32(entry.split(separator: "-").last ?? "") else { continue }
      if pid == getpid() || (kill(pid, 0) != 0 && errno == ESRCH) {
        unlink(folder + "/" + entry)
      }
    }
  }
}

/// The temporary plan files being written right now, so that a SIGINT or SIGTERM handler can
/// remove them before the process exits (SIGKILL cannot be caught: the next run removes them).
public final class InterruptCleanup: @unchecked Sendable {
  /// The one registry of this process.
  public static let shared = InterruptCleanup()

  private let lock = NSLock()
  private var paths = Set<String>()

  func register(_ path: String) {
    lock.withLock { _ = paths.insert(path) }
  }

  func unregister(_ path: String) {
    lock.withLock { _ = paths.remove(path) }
  }

  /// Unlinks every registered file. Safe to call from any thread while writers run: a writer
  /// whose file vanished fails its rename, and the plan path keeps its previous content.
  public func removeAll() {
    lock.withLock {
      for path in paths { unlink(path) }
      paths.removeAll()
    }
  }
}
