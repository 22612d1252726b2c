import AttncTestSupport
import Foundation
import Testing

@Suite struct InspectCommandTests {}

extension InspectCommandTests {
  @Test func helpTeachesTheCommands() throws {
    let result = try CLI.run(["--help"])
    #expect(result.status == 0)
    #expect(result.stdout.contains("inspect"))
    let inspect = try CLI.run(["inspect", "--help"])
    #expect(inspect.status == 0)
    #expect(inspect.stdout.contains("--input-shape"))
  }

  @Test func usageErrorsExitWithTwo() throws {
    let missing = try CLI.run(["inspect"])
    #expect(missing.status == 2)
    #expect(missing.stderr.contains("Missing expected argument"))
    let badFormat = try CLI.run(["inspect", "x.onnx", "--format", "yaml"])
    #expect(badFormat.status == 2)
    let badShape = try CLI.run(["inspect", "x.onnx", "--input-shape", "ids=1,-3"])
    #expect(badShape.status == 2)
    #expect(badShape.stderr.contains("'-3' is not a non-negative number or a symbol name"))
    let unknown = try CLI.run(["frobnicate"])
    #expect(unknown.status == 2)
  }

  @Test func missingFileIsAnIOError() throws {
    let result = try CLI.run(["inspect", "/nonexistent/model.onnx"])
    #expect(result.status == 2)
    #expect(result.stderr == "error: /nonexistent/model.onnx: cannot open '/nonexistent/model.onnx': No such file or directory\n")
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func inspectsEverySharedModelAsTableAndJSON() throws {
    for name in Fixtures.modelNames {
      let path = Fixtures.model(name)
      let table = try CLI.run(["inspect", path])
      #expect(table.status == 0, "\(name): \(table.stderr)")
      #expect(table.stdout.contains("op type"))
      let json = try CLI.run(["inspect", path, "--format", "json"])
      #expect(json.status == 0, "\(name): \(json.stderr)")
      let object = try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any]
      for key in ["inputs", "outputs", "opsets", "ops_before", "ops_after", "parameters"] {
        #expect(object?[key] != nil, "\(name): JSON lacks '\(key)'")
      }
    }
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func inputShapeOverridesDeclaredDims() throws {
    let path = Fixtures.model("vit_tiny_legacy")
    let result = try CLI.run([
      "inspect", path, "--format", "json", "--input-shape", "pixel_values=2,3,64,64",
    ])
    #expect(result.status == 0, "\(result.stderr)")
    let object = try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any]
    let inputs = object?["inputs"] as? [[String: Any]]
    #expect(inputs?.first?["shape"] as? [Int] == [2, 3, 64, 64])
    let wrongName = try CLI.run(["inspect", path, "--input-shape", "pixels=1,3,64,64"])
    #expect(wrongName.status == 2)
    #expect(wrongName.stderr.contains("--input-shape names 'pixels', which is not a graph input (inputs: 'pixel_values')"))
  }
}

extension InspectCommandTests {
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func jsonListsEveryMatchedAttention() throws {
    let result = try CLI.run(["inspect", Fixtures.model("llama_tiny_dynamo"), "--format", "json"])
    #expect(result.status == 0)
    let document = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let attention = try #require(document["attention"] as? [[String: Any]])
    #expect(attention.count == 2)
    for (layer, entry) in attention.enumerated() {
      #expect(entry["layer"] as? Int == layer)
      #expect(entry["q_heads"] as? Int == 4 && entry["kv_heads"] as? Int == 2 && entry["head_dim"] as? Int == 16)
      #expect(entry["mask"] as? String == "causal" && entry["causal"] as? Bool == true)
      #expect(entry["seq_len"] as? String == "seq" && entry["variant"] as? String == "softmax")
      #expect(entry["scale"] as? Double == 0.25)
    }
    #expect((document["unmatched_softmax"] as? [Any])?.isEmpty == true)
    // A causal decoder cannot merge tokens, and says why.
    let merging = try #require(document["token_merging"] as? [String: Any])
    #expect(merging["possible"] as? Bool == false)
    #expect((merging["reason"] as? String)?.contains("causal") == true)
  }

  @Test func tokenMergingIsPossibleForTheBundledEncoder() throws {
    let model = Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny/model.onnx").path
    let table = try CLI.run(["inspect", model])
    #expect(table.status == 0)
    #expect(table.stdout.contains("token merging: possible in 2 blocks"))
    let json = try CLI.run(["inspect", model, "--format", "json"])
    let document = try #require(try JSONSerialization.jsonObject(with: Data(json.stdout.utf8)) as? [String: Any])
    let merging = try #require(document["token_merging"] as? [String: Any])
    #expect(merging["possible"] as? Bool == true && merging["blocks"] as? Int == 2)
  }
}
