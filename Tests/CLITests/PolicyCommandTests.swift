import AttncCost
import AttncKit
import AttncTestSupport
import Foundation
import Testing

/// `convert --policy`, `inspect --format csv / --plot`, and their usage errors, on the bundled
/// sample with a fixture machine profile (no ../shared needed).
struct PolicyCommandTests {
  static func environment() throws -> [String: String] { ["ATTNC_MACHINE_PROFILE": try CostModelFixture.profilePath()] }

  @Test func convertUnderFastestPrintsTheLayerTableAndTheOpTable() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let plan = folder.appendingPathComponent("fast.attnc").path
    let result = try CLI.run(
      ["convert", CostModelFixture.sampleModel, "-o", plan, "--policy", "fastest", "--seq-len", "256"], environment: try Self.environment())
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("attention under --policy fastest, predicted at seq 256"))
    #expect(result.stdout.contains("FusedAttention"))
    #expect(result.stdout.contains("end to end"))
    #expect(result.stderr.contains("measuring each variant's attention error"))
    let inspect = try CLI.run(["inspect", plan, "--format", "json"])
    #expect(inspect.status == 0, "\(inspect.stderr)")
    #expect(inspect.stdout.contains("\"candidates\""))
  }

  @Test func tokenMergeUnderBalancedReportsMergedLengthsAndMergingsOwnError() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let plan = folder.appendingPathComponent("merged.attnc").path
    let result = try CLI.run(
      ["convert", CostModelFixture.sampleModel, "-o", plan, "--seq-len", "128", "--token-merge", "8"], environment: try Self.environment())
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stdout.contains("token merging: r per block 8,8; keys per layer seq, seq - 8"))
    #expect(result.stdout.contains("TokenMerge"))
    #expect(result.stdout.contains("(token merging alone: "))
    #expect(result.stdout.contains("unmerged exact plan's speed"))
    // The layer table shows each layer's merged length at the planned 128 tokens.
    #expect(result.stdout.contains("  128  ") && result.stdout.contains("  120  "))
    let inspect = try CLI.run(["inspect", plan, "--format", "json"])
    #expect(inspect.stdout.contains("token-merge=8"))
  }

  @Test func tokenMergeAutoPicksAMergeWithinTheBudget() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let plan = folder.appendingPathComponent("auto.attnc").path
    let result = try CLI.run(
      ["convert", CostModelFixture.sampleModel, "-o", plan, "--policy", "exact", "--seq-len", "64", "--token-merge", "auto", "--max-output-error", "0.5"],
      environment: try Self.environment())
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("choosing token-merge rates"))
    let line = try #require(result.stdout.split(separator: "\n").first { $0.contains("token merge auto: r per block") })
    // "output error E (budget 0.5000)": the chosen merge is within the budget, and with a budget
    // this loose it merges something.
    let error = try #require(Double(line.split(separator: " ").drop { $0 != "error" }.dropFirst().first ?? ""))
    #expect(error <= 0.5)
    #expect(!line.contains("r per block 0,0;"), "\(line)")
  }

  @Test func tokenMergeAutoStopsAtTheSearchTimeAndJudgesTheNamedOutputs() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let plan = folder.appendingPathComponent("auto.attnc").path
    let arguments = ["convert", CostModelFixture.sampleModel, "-o", plan, "--policy", "exact", "--seq-len", "64", "--token-merge", "auto"]
    // A budget that never binds and a search time one measurement long: it stops and keeps what
    // it measured.
    let result = try CLI.run(arguments + ["--max-output-error", "1000", "--search-time", "0.001"], environment: try Self.environment())
    #expect(result.status == 0, "\(result.stderr)")
    #expect(result.stderr.contains("--search-time 0.001 s reached"), "\(result.stderr)")
    #expect(result.stdout.contains("1 schedules tried"), "\(result.stdout)")
    // --outputs must name outputs of the model.
    let wrong = try CLI.run(arguments + ["--outputs", "pooled", "--force"], environment: try Self.environment())
    #expect(wrong.status == 2)
    #expect(wrong.stderr.contains("--outputs names 'pooled', which is not an output of the model (its outputs: last_hidden_state"), "\(wrong.stderr)")
  }

  @Test func layersOverrideForcesVariantsOnRanges() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let plan = folder.appendingPathComponent("mixed.attnc").path
    let result = try CLI.run(
      ["convert", CostModelFixture.sampleModel, "-o", plan, "--policy", "balanced", "--seq-len", "128", "--layers", "0:performer:m=16,1-:softmax"],
      environment: try Self.environment())
    #expect(result.status == 0, "\(result.stderr)")
    let rows = result.stdout.split(separator: "\n").filter { $0.contains("--layers") }
    #expect(rows.count >= 2)
    #expect(rows.first?.contains("performer:m=16") == true)
  }

  @Test func inspectWritesCSVAndAnSVGPlot() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let svg = folder.appendingPathComponent("costs.svg").path
    let result = try CLI.run(
      ["inspect", CostModelFixture.sampleModel, "--seq-len", "128", "--format", "csv", "--plot", svg], environment: try Self.environment())
    #expect(result.status == 0, "\(result.stderr)")
    let lines = result.stdout.split(separator: "\n")
    #expect(lines.first?.hasPrefix("layer,node,variant,gflops") == true)
    #expect(lines.count > AttentionCandidate.settings.count)
    #expect(lines.dropFirst().filter { $0.hasSuffix(",true") }.count == lines.dropFirst().map { $0.split(separator: ",")[0] }.reduce(into: Set<Substring>()) { $0.insert($1) }.count)
    let picture = try String(contentsOfFile: svg, encoding: .utf8)
    #expect(picture.hasPrefix("<svg"))
    #expect(picture.contains("softmax") && picture.contains("<polyline"))
  }

  @Test(arguments: [
    (["--seq-len", "zero"], "--seq-len"), (["--layers", "x:performer"], "--layers"), (["--memory-budget", "lots"], "--memory-budget"),
    (["--policy", "quick"], "policy"), (["--calibration", "/nonexistent/folder"], "--calibration"),
    (["--token-merge", "lots"], "--token-merge"), (["--token-merge", "8:fast"], "--token-merge"),
  ])
  func badPolicyOptionsAreUsageErrors(_ arguments: [String], _ mention: String) throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let plan = folder.appendingPathComponent("x.attnc").path
    let result = try CLI.run(["convert", CostModelFixture.sampleModel, "-o", plan] + arguments, environment: try Self.environment())
    #expect(result.status == 2, "\(result.stdout) \(result.stderr)")
    #expect(result.stderr.contains(mention))
    #expect(!FileManager.default.fileExists(atPath: plan))
  }
}

/// `inspect` on every shared model gives a table, JSON with the cost model and an SVG.
struct InspectEveryModelTests {
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func tableJSONAndPlotForEveryModel() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let environment = ["ATTNC_MACHINE_PROFILE": try CostModelFixture.profilePath()]
    for name in Fixtures.modelNames {
      let model = Fixtures.model(name)
      let table = try CLI.run(["inspect", model, "--seq-len", "auto"], environment: environment)
      #expect(table.status == 0, "\(name): \(table.stderr)")
      #expect(table.stdout.contains("candidates per layer"), "\(name)")
      let svg = folder.appendingPathComponent("\(name).svg").path
      let json = try CLI.run(["inspect", model, "--seq-len", "256", "--format", "json", "--plot", svg], environment: environment)
      #expect(json.status == 0, "\(name): \(json.stderr)")
      let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any], "\(name)")
      let layers = try #require(document["attention"] as? [[String: Any]])
      #expect(!layers.isEmpty && layers.allSatisfy { $0["candidates"] != nil && $0["chosen"] != nil }, "\(name)")
      #expect(document["cost_model"] != nil, "\(name)")
      let picture = try String(contentsOfFile: svg, encoding: .utf8)
      #expect(picture.hasPrefix("<svg") && picture.hasSuffix("</svg>\n") && picture.contains("<polyline"), "\(name)")
    }
  }
}

/// A balanced conversion is deterministic given the machine profile and the calibration inputs.
struct PolicyDeterminismTests {
  @Test func balancedReconversionIsByteIdentical() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let environment = ["ATTNC_MACHINE_PROFILE": try CostModelFixture.profilePath()]
    let calibration = Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny").path
    var files: [Data] = []
    for name in ["a.attnc", "b.attnc"] {
      let plan = folder.appendingPathComponent(name).path
      let result = try CLI.run(["convert", CostModelFixture.sampleModel, "-o", plan, "--calibration", calibration], environment: environment)
      #expect(result.status == 0, "\(result.stderr)")
      files.append(try Data(contentsOf: URL(fileURLWithPath: plan)))
    }
    #expect(files[0] == files[1])
  }
}
