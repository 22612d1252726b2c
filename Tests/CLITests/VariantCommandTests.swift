import AttncCost
import AttncKit
import AttncTestSupport
import Foundation
import Testing

/// `convert --variant`, `verify`, `variants` and `bench quality` as a user runs them.
@Suite struct VariantCommandTests {
  @Test func variantsListsEveryVariantWithItsParameters() throws {
    let result = try CLI.run(["variants"])
    #expect(result.status == 0)
    for name in [
      "softmax", "performer", "linformer", "flurka-rf", "flurka-pool", "flurka-elu", "fastmax", "scatterbrain", "nystrom", "blocksparse",
    ] {
      #expect(result.stdout.contains("\n\(name)\n") || result.stdout.hasPrefix("\(name)\n"), "\(name)")
    }
    #expect(result.stdout.contains("changes the score function"))
    #expect(result.stdout.contains("m=256"))
    // A list of choices longer than the name column stays whole and apart from its help.
    #expect(result.stdout.contains("    prec=f32|bf16|int8|int8pv precision of Q·Kᵀ and P·V"))
    // Each variant: its name, its summary, then its limits.
    let lines = result.stdout.split(separator: "\n").map(String.init)
    func limits(_ name: String) -> String? { lines.firstIndex(of: name).map { lines[$0 + 2] } }
    #expect(limits("flurka-rf") == "    encoder only, key padding ok, no key weights")
    #expect(limits("linformer") == "    encoder only, key padding ok, key weights ok (not random=1)")
    #expect(limits("nystrom") == "    encoder only, key padding ok, key weights ok")
  }

  /// Every `docs/NAME.md` that the help of a command names is a file of the package (not
  /// `../shared/docs/…`, which a fresh clone does not have).
  @Test func helpNamesOnlyDocsThatExist() throws {
    var named: Set<String> = []
    let commands = [
      ["convert"], ["run"], ["verify"], ["inspect"], ["variants"], ["calibrate-machine"], ["bench", "model"],
      ["bench", "decode"], ["bench", "quality"], ["bench", "scaling"], ["bench", "cost-model"],
    ]
    for command in commands {
      let help = try CLI.run(command + ["--help"])
      #expect(help.status == 0, "\(command): \(help.stderr)")
      let words = help.stdout.split(whereSeparator: { $0.isWhitespace || "(),;`'\"".contains($0) })
      for word in words.map({ String($0).trimmingCharacters(in: CharacterSet(charactersIn: ".:")) })
      where word.hasPrefix("docs/") && word.hasSuffix(".md") {
        named.insert(word)
      }
    }
    #expect(named.contains("docs/variants.md"), "\(named)")
    for path in named.sorted() {
      #expect(FileManager.default.fileExists(atPath: Fixtures.packageRoot.appendingPathComponent(path).path), "\(path)")
    }
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func convertWithAVariantRecordsDecisionsAndVerifyMeasuresThem() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = Fixtures.model("bert_tiny_legacy")
    let testData = URL(fileURLWithPath: model).deletingLastPathComponent().appendingPathComponent("test_data_set_0").path
    let plan = folder.appendingPathComponent("nys.attnc").path
    let convert = try CLI.run(["convert", model, "-o", plan, "--variant", "nystrom:m=4"])
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(convert.stdout.contains("layer 0"))
    #expect(convert.stdout.contains("nystrom:iterations=6,m=4"))
    let inspect = try CLI.run(["inspect", plan, "--format", "json"])
    #expect(inspect.stdout.contains("\"variant\": \"nystrom\""))

    let verify = try CLI.run(["verify", plan, "--reference", model, "--test-data", testData, "--format", "json"])
    #expect(verify.status == 0, "\(verify.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(verify.stdout.utf8)) as? [String: Any])
    let outputError = try #require(json["output_error"] as? Double)
    #expect(outputError > 0 && outputError < 1)
    let layers = try #require(json["layers"] as? [[String: Any]])
    #expect(!layers.isEmpty)
    #expect(layers.allSatisfy { ($0["variant"] as? String) == "nystrom" && (($0["error"] as? Double) ?? 0) > 0 })
    #expect((json["outputs"] as? [[String: Any]])?.first?["name"] != nil)

    let strict = try CLI.run(["verify", plan, "--reference", model, "--test-data", testData, "--max-output-error", "1e-9"])
    #expect(strict.status == 1)
    #expect(strict.stderr.contains("exceeds --max-output-error"))

    // Same options, same bytes: seeds are part of the plan.
    let again = folder.appendingPathComponent("again.attnc").path
    let seeded = folder.appendingPathComponent("seeded.attnc").path
    _ = try CLI.run(["convert", model, "-o", seeded, "--variant", "performer:m=16"])
    _ = try CLI.run(["convert", model, "-o", again, "--variant", "performer:m=16"])
    #expect(FileManager.default.contents(atPath: seeded) == FileManager.default.contents(atPath: again))
    let run = try CLI.run(["run", seeded, "--test-data", testData, "--rtol", "1", "--atol", "10"])
    #expect(run.status == 0, "\(run.stderr)")
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func encoderOnlyVariantsStayExactOnCausalLayersWithTheReason() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let model = Fixtures.model("gpt2_tiny_dynamo")
    let plan = folder.appendingPathComponent("gpt2.attnc").path
    let convert = try CLI.run(["convert", model, "-o", plan, "--variant", "linformer"])
    #expect(convert.status == 0, "\(convert.stderr)")
    #expect(convert.stdout.contains("kept exact: linformer has no causal form"))
    #expect(convert.stdout.contains("note: no layer could take 'linformer'"))
    let testData = URL(fileURLWithPath: model).deletingLastPathComponent().appendingPathComponent("test_data_set_0").path
    #expect(try CLI.run(["run", plan, "--test-data", testData]).status == 0)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func inspectWithASeqLenListsEveryVariantsCostAndWhetherItMayRun() throws {
    let environment = ["ATTNC_MACHINE_PROFILE": try CostModelFixture.profilePath()]
    let result = try CLI.run(
      ["inspect", Fixtures.model("gpt2_tiny_dynamo"), "--seq-len", "4096", "--policy", "fastest", "--format", "json"], environment: environment)
    #expect(result.status == 0, "\(result.stderr)")
    let json = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let layers = try #require(json["attention"] as? [[String: Any]])
    #expect(!layers.isEmpty)
    for layer in layers {
      let candidates = try #require(layer["candidates"] as? [[String: Any]])
      #expect(candidates.count == AttentionCandidate.weighed.count)
      func candidate(_ name: String) -> [String: Any]? { candidates.first { $0["variant"] as? String == name } }
      // Causal GPT-2: the encoder-only variants may not run it, the prefix-sum ones may.
      #expect(candidate("nystrom")?["allowed"] as? Bool == false)
      #expect((candidate("nystrom")?["reason"] as? String)?.contains("no causal form") == true)
      #expect(candidate("performer")?["allowed"] as? Bool == true)
      #expect(candidate("performer")?["error_source"] as? String == "synthetic")
      let exact = try #require(candidate("softmax")?["gflops"] as? Double), performer = try #require(candidate("performer")?["gflops"] as? Double)
      #expect(exact > performer && performer > 0)
      // fastest: the chosen setting has the least predicted time among the allowed ones.
      let allowed = candidates.filter { $0["allowed"] as? Bool == true }.compactMap { $0["predicted_ms"] as? Double }
      let chosen = try #require(layer["chosen"] as? String)
      let chosenVariant = chosen.split(separator: ":").first.map(String.init)
      let chosenTimes = candidates.filter { $0["variant"] as? String == chosenVariant }.compactMap { $0["predicted_ms"] as? Double }
      #expect(chosenTimes.contains(try #require(allowed.min())))
    }
    let costModel = try #require(json["cost_model"] as? [String: Any])
    #expect((costModel["predicted_speedup"] as? Double ?? 0) >= 1)
    let table = try CLI.run(["inspect", Fixtures.model("bert_tiny_legacy"), "--seq-len", "2048"], environment: environment)
    #expect(table.status == 0, "\(table.stderr)")
    #expect(table.stdout.contains("candidates per layer at seq 2048"))
    #expect(!table.stdout.contains("cannot honour") && !table.stdout.contains("no causal form"))  // every variant may run BERT
  }

  @Test func badVariantsAreUsageErrors() throws {
    let folder = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: folder) }
    let missing = folder.appendingPathComponent("none").path
    for (variant, message) in [("perfomer", "unknown attention variant 'perfomer'"), ("fastmax:p=7", "p must be an integer in 1...2")] {
      let result = try CLI.run(["bench", "quality", "--attention-data", folder.path, "--variant", variant])
      #expect(result.status == 2)
      #expect(result.stderr.contains(message), "\(result.stderr)")
    }
    let empty = try CLI.run(["bench", "quality", "--attention-data", missing])
    #expect(empty.status == 2)
    #expect(empty.stderr.contains("is not a folder"))
  }
}
