import AttncRuntime
import AttncTestSupport
import Foundation
import Testing

#if canImport(Glibc)
  import Glibc
#endif

/// `attnc convert <dir|glob|file>... -o OUTDIR`: batch conversion, driven as a subprocess.
@Suite final class BatchConvertTests {
  let directory: URL

  init() throws { directory = try Fixtures.temporaryDirectory() }

  deinit { try? FileManager.default.removeItem(at: directory) }

  // MARK: - Fixtures

  /// A tiny valid model (no attention): converts in milliseconds.
  static let tinyModel = OnnxBuilder().input("x", ["n"]).node("Neg", ["x"], ["y"], name: "neg")
    .output("y").bytes()

  func path(_ relative: String) -> String { directory.appendingPathComponent(relative).path }

  /// Writes `bytes` to `relative` below the test folder, creating folders.
  @discardableResult
  func write(_ bytes: [UInt8], to relative: String) throws -> String {
    let url = directory.appendingPathComponent(relative)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(bytes).write(to: url)
    return url.path
  }

  /// A folder `name` with a truncated copy of a shared model and an empty `.onnx`.
  func badModels(in name: String) throws -> String {
    let good = try Data(contentsOf: URL(fileURLWithPath: Fixtures.model("bert_tiny_dynamo")))
    try write(Array(good.prefix(good.count / 2)), to: "\(name)/corrupt.onnx")
    try write([], to: "\(name)/empty.onnx")
    return path(name)
  }

  /// The `models` array of the JSON report at `path`.
  func reportModels(_ path: String) throws -> [[String: Any]] {
    let data = try Data(contentsOf: URL(fileURLWithPath: path))
    let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    return try #require(object["models"] as? [[String: Any]])
  }

  /// Report entries by input path: their status.
  func statuses(_ models: [[String: Any]]) -> [String: String] {
    Dictionary(
      uniqueKeysWithValues: models.map {
        ($0["input"] as? String ?? "", $0["status"] as? String ?? "")
      })
  }

  /// Every file below `folder`, relative to it, sorted (hidden ones included).
  func files(under folder: String) -> [String] {
    let enumerator = FileManager.default.enumerator(atPath: folder)
    var found: [String] = []
    while let entry = enumerator?.nextObject() as? String {
      var isFolder: ObjCBool = false
      if FileManager.default.fileExists(atPath: folder + "/" + entry, isDirectory: &isFolder),
        !isFolder.boolValue
      {
        found.append(entry)
      }
    }
    return found.sorted()
  }

  /// Starts `attnc arguments...` without waiting; output goes to the null device.
  func start(_ arguments: [String]) throws -> Process {
    let process = Process()
    process.executableURL = CLI.executable
    process.arguments = arguments
    process.standardOutput = FileHandle.nullDevice
    process.standardError = FileHandle.nullDevice
    process.standardInput = FileHandle.nullDevice
    try process.run()
    return process
  }

  /// Polls every 5 ms until `condition` holds or `timeout` seconds pass.
  func wait(timeout: Double, until condition: () -> Bool) {
    let deadline = Date().addingTimeInterval(timeout)
    while !condition() && Date() < deadline { usleep(5_000) }
  }

  /// Checks that every `.attnc` below `folder` reads back whole and that no other file is there.
  func expectOnlyCompletePlans(
    in folder: String, sourceLocation: SourceLocation = #_sourceLocation
  ) {
    for file in files(under: folder) {
      let name = URL(fileURLWithPath: file).lastPathComponent
      #expect(
        name.hasSuffix(".attnc") && !name.hasPrefix("."), "stray file \(file)",
        sourceLocation: sourceLocation)
      if name.hasSuffix(".attnc") {
        #expect(throws: Never.self, "\(file) must read back", sourceLocation: sourceLocation) {
          _ = try PlanFile.read(folder + "/" + file)
        }
      }
    }
  }
}

// MARK: - The issue's scenario

extension BatchConvertTests {
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func convertsAFolderReportsBadModelsAndSkipsEverythingOnRerun() throws {
    let models = try #require(Fixtures.shared).appendingPathComponent("models").path
    let bad = try badModels(in: "bad")
    let out = path("out")
    let report = path("r.json")
    let names = Fixtures.modelNames
    #expect(names.count >= 2)

    let profile = ["ATTNC_MACHINE_PROFILE": try CostModelFixture.profilePath()]
    let first = try CLI.run(["convert", models, bad, "-o", out, "--jobs", "2", "--report", report], environment: profile)
    #expect(first.status == 1, "\(first.stdout)\(first.stderr)")
    #expect(first.stderr == "error: 2 of \(names.count + 2) models failed\n")
    #expect(
      first.stdout.contains(
        "\(names.count + 2) models: \(names.count) converted, 0 skipped, 2 failed"))
    var entries = try reportModels(report)
    #expect(entries.count == names.count + 2)
    var status = statuses(entries)
    for name in names {
      #expect(status["\(models)/\(name)/model.onnx"] == "converted", "\(name)")
      // The folder structure is kept below OUTDIR.
      let plan = try PlanFile.readHeader("\(out)/\(name)/model.attnc")
      #expect(plan.options.hasPrefix("policy=balanced linear-precision=auto seq-len=default"))  // the default policy
      #expect(plan.producer == "attnc 0.1.0")
    }
    let errors = Dictionary(
      uniqueKeysWithValues: entries.map { ($0["input"] as? String ?? "", $0["error"] as? String) })
    #expect(status["\(bad)/corrupt.onnx"] == "failed")
    #expect(
      errors["\(bad)/corrupt.onnx"]
        == "\(bad)/corrupt.onnx: not a valid ONNX model: protobuf decoding failed (truncated or corrupted file)"
    )
    #expect(status["\(bad)/empty.onnx"] == "failed")
    #expect(errors["\(bad)/empty.onnx"] == "\(bad)/empty.onnx: file is empty")
    #expect(first.stdout.contains("failed     \(bad)/empty.onnx: file is empty"))
    #expect(!FileManager.default.fileExists(atPath: "\(out)/corrupt.attnc"))
    #expect(!FileManager.default.fileExists(atPath: "\(out)/empty.attnc"))
    expectOnlyCompletePlans(in: out)

    let second = try CLI.run(["convert", models, bad, "-o", out, "--jobs", "2", "--report", report], environment: profile)
    #expect(second.status == 1)
    #expect(
      second.stdout.contains(
        "\(names.count + 2) models: 0 converted, \(names.count) skipped, 2 failed"))
    entries = try reportModels(report)
    status = statuses(entries)
    for name in names {
      #expect(status["\(models)/\(name)/model.onnx"] == "skipped", "\(name)")
    }
    #expect(status["\(bad)/corrupt.onnx"] == "failed")
    #expect(status["\(bad)/empty.onnx"] == "failed")
    // Skipped models still report what their plan holds.
    let bert = try #require(
      entries.first { ($0["input"] as? String)?.hasSuffix("bert_tiny_dynamo/model.onnx") == true })
    #expect(bert["layers_matched"] as? Int == 2)
    #expect((bert["plan_bytes"] as? Int ?? 0) > 0)
  }
}

// MARK: - Determinism and the skip rule

extension BatchConvertTests {
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func reconvertingWithForceGivesByteIdenticalPlans() throws {
    let names = ["bert_tiny_external", "llama_tiny_dynamo", "gpt2_tiny_dynamo"]
    let out = path("out")
    let arguments = ["convert", "--policy", "exact"] + names.map(Fixtures.model) + ["-o", out, "--jobs", "2"]
    let first = try CLI.run(arguments)
    #expect(first.status == 0, "\(first.stdout)\(first.stderr)")
    // Files named directly keep their paths below their common folder.
    #expect(files(under: out) == names.sorted().map { "\($0)/model.attnc" })
    let before = try names.map {
      try Data(contentsOf: URL(fileURLWithPath: "\(out)/\($0)/model.attnc"))
    }

    let again = try CLI.run(arguments + ["--force", "--report", path("r.json")])
    #expect(again.status == 0)
    #expect(Set(statuses(try reportModels(path("r.json"))).values) == ["converted"])
    let after = try names.map {
      try Data(contentsOf: URL(fileURLWithPath: "\(out)/\($0)/model.attnc"))
    }
    #expect(before == after)
  }

  @Test func staleDamagedAndChangedPlansAreReconverted() throws {
    for name in ["a", "b", "c", "d", "e"] {
      try write(Self.tinyModel, to: "zoo/\(name)/model.onnx")
    }
    let out = path("out")
    let report = path("r.json")
    let arguments = ["convert", "--policy", "exact", path("zoo"), "-o", out, "--report", report]
    #expect(try CLI.run(arguments).status == 0)

    // a: truncated; b: a flipped header byte; c: its model changed; d: made by another build
    // (its producer differs, header re-checksummed by writing a new plan); e: untouched.
    let planA = "\(out)/a/model.attnc"
    let bytesA = try Data(contentsOf: URL(fileURLWithPath: planA))
    try bytesA.prefix(bytesA.count - 1).write(to: URL(fileURLWithPath: planA))
    let planB = "\(out)/b/model.attnc"
    var bytesB = [UInt8](try Data(contentsOf: URL(fileURLWithPath: planB)))
    bytesB[20] ^= 0x01
    try Data(bytesB).write(to: URL(fileURLWithPath: planB))
    try write(
      OnnxBuilder().input("x", ["n"]).node("Abs", ["x"], ["y"], name: "abs").output("y").bytes(),
      to: "zoo/c/model.onnx")
    var planD = try PlanFile.read("\(out)/d/model.attnc")
    planD.producer = "attnc 0.0.1"
    try PlanFile.write(planD, to: "\(out)/d/model.attnc")

    let second = try CLI.run(arguments + ["--verbose"])
    #expect(second.status == 0, "\(second.stdout)\(second.stderr)")
    let entries = try reportModels(report)
    let byName = Dictionary(
      uniqueKeysWithValues: entries.map { entry in
        (
          URL(fileURLWithPath: entry["input"] as? String ?? "").deletingLastPathComponent()
            .lastPathComponent, entry
        )
      })
    #expect(byName["e"]?["status"] as? String == "skipped")
    for name in ["a", "b", "c", "d"] {
      #expect(byName[name]?["status"] as? String == "converted", "\(name)")
    }
    #expect(
      (byName["a"]?["reason"] as? String)?.hasPrefix(
        "the existing plan is unreadable: plan file is truncated") == true)
    #expect(
      byName["b"]?["reason"] as? String
        == "the existing plan is unreadable: plan header checksum mismatch (file corrupted)")
    #expect(
      byName["c"]?["reason"] as? String == "the model changed since the existing plan was made")
    #expect(byName["d"]?["reason"] as? String == "the existing plan was made by 'attnc 0.0.1'")
    #expect(
      second.stdout.contains("converted because the model changed since the existing plan was made")
    )
    expectOnlyCompletePlans(in: out)

    // Other options: every plan is out of date; the same options spelt differently are not.
    let variant = try CLI.run(arguments + ["--variant", "performer:m=64"])
    #expect(variant.status == 0)
    #expect(Set(statuses(try reportModels(report)).values) == ["converted"])
    let respelt = try CLI.run(arguments + ["--variant", "performer:seed=0,m=64"])
    #expect(Set(statuses(try reportModels(report)).values) == ["skipped"], "\(respelt.stdout)")
    #expect(
      try PlanFile.readHeader("\(out)/e/model.attnc").options.hasPrefix(
        "policy=exact variant=performer:"))
  }
}

// MARK: - Interruptions

extension BatchConvertTests {
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func aKilledBatchLeavesOnlyCompletePlansAndTheNextRunFinishes() throws {
    let models = try #require(Fixtures.shared).appendingPathComponent("models").path
    let out = path("out")
    // A temporary file a killed run left mid-write (its process, pid 2^22 + 1, does not exist).
    try write([1, 2, 3], to: "out/bert_mini_legacy/.model.attnc.tmp-4194305")

    let process = try start(["convert", "--policy", "exact", models, "-o", out])
    wait(timeout: 60) { files(under: out).contains { $0.hasSuffix("/model.attnc") } }
    kill(process.processIdentifier, SIGKILL)
    process.waitUntilExit()
    #expect(process.terminationReason == .uncaughtSignal)
    let plansAfterKill = files(under: out).filter { $0.hasSuffix("/model.attnc") }
    #expect(!plansAfterKill.isEmpty)
    #expect(plansAfterKill.count < Fixtures.modelNames.count, "the kill came after the last plan")
    for plan in plansAfterKill {
      #expect(throws: Never.self) { _ = try PlanFile.read("\(out)/\(plan)") }
    }

    let rerun = try CLI.run(["convert", "--policy", "exact", models, "-o", out, "--report", path("r.json")])
    #expect(rerun.status == 0, "\(rerun.stdout)\(rerun.stderr)")
    let status = statuses(try reportModels(path("r.json")))
    #expect(status.values.filter { $0 == "skipped" }.count == plansAfterKill.count)
    #expect(files(under: out) == Fixtures.modelNames.map { "\($0)/model.attnc" })
    expectOnlyCompletePlans(in: out)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func anInterruptedBatchRemovesItsTemporaryFileAndSaysHowToContinue() throws {
    let models = try #require(Fixtures.shared).appendingPathComponent("models").path
    let out = path("out")
    let process = Process()
    process.executableURL = CLI.executable
    process.arguments = ["convert", "--policy", "exact", models, "-o", out]
    let err = Pipe()
    process.standardOutput = FileHandle.nullDevice
    process.standardError = err
    try process.run()
    wait(timeout: 60) { files(under: out).contains { $0.hasSuffix("/model.attnc") } }
    kill(process.processIdentifier, SIGINT)
    let message = String(decoding: err.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    if process.terminationStatus == 0 { return }  // finished before the signal arrived
    #expect(process.terminationStatus == 128 + SIGINT)
    #expect(message.hasPrefix("interrupted after "), "\(message)")
    #expect(
      message.hasSuffix(
        "models; no partial plan was left, run the same command again to continue\n"))
    expectOnlyCompletePlans(in: out)
  }
}

// MARK: - Sharding, globs and parallelism

extension BatchConvertTests {
  @Test func shardsPartitionTheInputsExactly() throws {
    let names = (0..<8).map { "m\($0)/model.onnx" } + ["deep/er/x.onnx"]
    for name in names { try write(Self.tinyModel, to: "zoo/\(name)") }
    // Data files and hidden folders are not models.
    try write([0, 1, 2], to: "zoo/m0/weights.bin")
    try write([0, 1, 2], to: "zoo/m0/model.onnx.data")
    try write(Self.tinyModel, to: "zoo/.cache/hidden.onnx")

    var shards: [[String]] = []
    for index in 1...3 {
      let report = path("r\(index).json")
      let result = try CLI.run(
        [
          "convert", "--policy", "exact", path("zoo"), "-o", path("out"), "--shard", "\(index)/3", "--report", report,
          "--quiet",
        ])
      #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
      #expect(result.stdout.hasPrefix("3 models: 3 converted"), "\(result.stdout)")
      shards.append(try reportModels(report).compactMap { $0["input"] as? String })
    }
    let all = shards.flatMap { $0 }
    #expect(all.count == names.count)
    #expect(Set(all) == Set(names.map { path("zoo/\($0)") }))
    #expect(
      files(under: path("out"))
        == names.map { $0.replacingOccurrences(of: ".onnx", with: ".attnc") }.sorted())

    // The same shard picks the same models every time.
    let again = try CLI.run(
      [
        "convert", "--policy", "exact", path("zoo"), "-o", path("out2"), "--shard", "2/3", "--report",
        path("again.json"), "--quiet",
      ])
    #expect(again.status == 0)
    #expect(try reportModels(path("again.json")).compactMap { $0["input"] as? String } == shards[1])
  }

  @Test func aQuotedGlobKeepsPathsBelowItsFixedPart() throws {
    for name in ["a", "b"] { try write(Self.tinyModel, to: "zoo/\(name)/model.onnx") }
    try write([9], to: "zoo/a/weights.bin")
    let result = try CLI.run(["convert", "--policy", "exact", path("zoo") + "/*/*", "-o", path("out")])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(files(under: path("out")) == ["a/model.attnc", "b/model.attnc"])
  }

  @Test func aTightMemoryBudgetConvertsOneModelAtATime() throws {
    for index in 0..<4 { try write(Self.tinyModel, to: "zoo/m\(index).onnx") }
    let result = try CLI.run(
      ["convert", "--policy", "exact", path("zoo"), "-o", path("out"), "--jobs", "4", "--report", path("r.json")],
      environment: ["ATTNC_MEMORY_BUDGET": "1"])
    #expect(result.status == 0, "\(result.stdout)\(result.stderr)")
    #expect(result.stdout.hasPrefix("converting 4 models, 4 at a time\n"))
    let spans = try reportModels(path("r.json")).map { entry -> (Double, Double) in
      let started = entry["started"] as? Double ?? 0
      return (started, started + (entry["seconds"] as? Double ?? 0))
    }.sorted { $0.0 < $1.0 }
    // Rounded to the millisecond: allow that much overlap.
    for (earlier, later) in zip(spans, spans.dropFirst()) {
      #expect(later.0 >= earlier.1 - 0.002, "\(spans)")
    }
  }

  @Test func oneFileWithAPlanPathStaysASingleConversion() throws {
    let model = try write(Self.tinyModel, to: "one/model.onnx")
    let result = try CLI.run(["convert", "--policy", "exact", model, "-o", path("one/plan.attnc")])
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.hasPrefix("converted \(model) -> \(path("one/plan.attnc"))\n"))
    // The same file with -o naming a folder is a batch of one.
    let batch = try CLI.run(["convert", "--policy", "exact", model, "-o", path("plans") + "/"])
    #expect(batch.status == 0, "\(batch.stderr)")
    #expect(FileManager.default.fileExists(atPath: path("plans/model.attnc")))
  }
}

// MARK: - Usage errors

extension BatchConvertTests {
  @Test func usageErrorsExitTwoWithAClearMessage() throws {
    try write(Self.tinyModel, to: "zoo/a.onnx")
    try write([1], to: "file.txt")
    try FileManager.default.createDirectory(
      atPath: path("empty"), withIntermediateDirectories: true)
    let zoo = path("zoo")
    let cases: [([String], String)] = [
      (
        ["convert", "--policy", "exact", zoo],
        "error: batch conversion needs -o OUTDIR, the folder the plans are written to\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, "-o", path("out"), "--shard", "0/3"],
        "error: --shard '0/3' must be i/n with 1 <= i <= n (such as 2/8)\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, "-o", path("out"), "--shard", "4/3"],
        "error: --shard '4/3' must be i/n with 1 <= i <= n (such as 2/8)\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, "-o", path("out"), "--shard", "two"],
        "error: --shard 'two' must be i/n with 1 <= i <= n (such as 2/8)\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, "-o", path("out"), "--jobs", "0"],
        "error: --jobs must be at least 1, got 0\n"
      ),
      (
        ["convert", "--policy", "exact", path("nothing") + "/*.onnx", "-o", path("out")],
        "error: '\(path("nothing"))/*.onnx' matches no file\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, path("missing.onnx"), "-o", path("out")],
        "error: '\(path("missing.onnx"))' does not exist\n"
      ),
      (
        ["convert", "--policy", "exact", path("empty"), "-o", path("out")],
        "error: '\(path("empty"))': no .onnx model in this folder\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, "-o", path("file.txt")],
        "error: -o '\(path("file.txt"))' is a file; batch conversion writes into a folder\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, "-o", path("out"), "--report", path("no/r.json")],
        "error: --report '\(path("no/r.json"))': the folder '\(path("no"))' does not exist\n"
      ),
      (
        ["convert", "--policy", "exact", zoo, "-o", path("out"), "--variant", "nope"],
        "error: --variant 'nope': unknown attention variant 'nope' (known: softmax, performer, "
      ),
    ]
    for (arguments, message) in cases {
      let result = try CLI.run(arguments)
      #expect(result.status == 2, "\(arguments)")
      // The last message is a prefix: the list of variants may grow.
      #expect(
        result.stderr == message || (!message.hasSuffix("\n") && result.stderr.hasPrefix(message)),
        "\(arguments)")
      #expect(result.stdout.isEmpty, "\(arguments)")
    }
    #expect(!FileManager.default.fileExists(atPath: path("out")))
  }
}
