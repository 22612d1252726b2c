import AttncIR
import AttncKernels
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Decoders exported with their KV cache (`*_kvpresent_*`: `past_*` in, `present_*` out): the
/// cache append is fused into the attention, a prompt then single-token steps fed present → past
/// give what one run over the whole sequence gives, and `attnc bench decode` runs the loop.
@Suite(.serialized) struct DecodeTests {
  static var names: [String] { Fixtures.exportNames.filter { $0.contains("_kvpresent_") } }

  static func plan(_ name: String) throws -> Plan {
    try Compiler.plan(Fixtures.exports.appendingPathComponent("\(name)/model.onnx").path).plan
  }

  @Test(.enabled(if: !names.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: names)
  func theCacheAppendIsFusedIntoTheAttention(name: String) throws {
    let plan = try Self.plan(name)
    let attention = plan.instructions.compactMap { $0.call as? FusedAttentionCall }
    #expect(attention.count == 2 && attention.allSatisfy(\.appendsCache), "\(name)")
    // No copy of a cache is left: no Concat reads a past input, every present output is an attention's.
    let past = Set(plan.inputs.filter { plan.slots[$0].name.hasPrefix("past") })
    #expect(!plan.instructions.contains { $0.kernel == "Concat" && $0.inputs.contains { $0.map(past.contains) == true } }, "\(name)")
    let presents = plan.outputs.filter { plan.slots[$0].name.hasPrefix("present") }
    #expect(presents.count == 4 && presents.allSatisfy { slot in plan.instructions.contains { $0.call is FusedAttentionCall && $0.outputs.contains(slot) } })
  }

  /// Prefill 6 tokens, then one step with a 7th: the step's hidden state and present cache are
  /// the last row and the whole cache of one run over all 7 tokens.
  @Test(.enabled(if: !names.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: names)
  func aStepOnTheCacheEqualsTheWholeSequence(name: String) throws {
    let plan = try Self.plan(name)
    let interpreter = try Interpreter(plan: plan)
    let roles = try DecodeBenchmark.roles(plan)
    let tokens: [Int64] = [5, 17, 3, 99, 42, 8, 61]
    let prompt = try interpreter.run(tensors: DecodeBenchmark.stepInputs(plan, roles, tokens: Array(tokens.prefix(6)), start: 0, cache: nil))
    let step = try interpreter.run(tensors: DecodeBenchmark.stepInputs(
      plan, roles, tokens: [tokens[6]], start: 6, cache: roles.cache.map { prompt[$0.output] }))
    let whole = try interpreter.run(tensors: DecodeBenchmark.stepInputs(plan, roles, tokens: tokens, start: 0, cache: nil))
    let hidden = whole[0].shape[2]
    let lastRow = Array(whole[0].floats[(6 * hidden)..<(7 * hidden)])
    #expect(Reference.maxDifference(step[0].floats, lastRow) < 1e-4, "\(name): the step's hidden state")
    for pair in roles.cache {
      #expect(step[pair.output].shape == whole[pair.output].shape)
      #expect(Reference.maxDifference(step[pair.output].floats, whole[pair.output].floats.owned) < 1e-4, "\(name): \(plan.slots[plan.outputs[pair.output]].name)")
    }
  }

  /// Under a variant, the prompt runs the variant and a decoding step (1 new token on 7 cached)
  /// runs exact: the same numbers as the exact plan's.
  @Test(.enabled(if: !names.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: names)
  func decodingStepsRunExactUnderAVariant(name: String) throws {
    let path = Fixtures.exports.appendingPathComponent("\(name)/model.onnx").path
    let exact = try Interpreter(plan: Compiler.plan(path).plan)
    let performer = try Interpreter(plan: Compiler.plan(path, policy: "exact", variant: "performer").plan)
    for set in [0, 1] {
      let data = Fixtures.exports.appendingPathComponent("\(name)/test_data_set_\(set)")
      let inputs = try TestDataSet.inputs(data, count: exact.plan.inputs.count)
      let (a, b) = (try exact.run(inputs)[0].floats(), try performer.run(inputs)[0].floats())
      if set == 0 {
        #expect(a != b, "\(name): the prompt runs performer")
      } else {
        #expect(a == b, "\(name): a decoding step runs exact")
      }
    }
  }

  @Test(.enabled(if: !names.isEmpty, Comment(rawValue: Fixtures.exportsMissing)))
  func inspectSaysWhatADecodingStepDoes() throws {
    let model = Fixtures.exports.appendingPathComponent("\(Self.names[0])/model.onnx").path
    let result = try CLI.run(["inspect", model, "--format", "json"])
    #expect(result.status == 0, "\(result.stderr)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    let attention = try #require(report["attention"] as? [[String: Any]])
    #expect(attention.count == 2 && attention.allSatisfy { $0["kv_cache"] as? Bool == true })
    #expect(attention.allSatisfy { ($0["decode"] as? String)?.contains("runs exact over the cache") == true })
    let plain = try CLI.run(["inspect", Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny/model.onnx").path, "--format", "json"])
    let bert = try #require(try JSONSerialization.jsonObject(with: Data(plain.stdout.utf8)) as? [String: Any])
    #expect((bert["attention"] as? [[String: Any]])?.allSatisfy { $0["kv_cache"] as? Bool == false && $0["decode"] is NSNull } == true)
  }

  @Test(.enabled(if: !names.isEmpty, Comment(rawValue: Fixtures.exportsMissing)))
  func benchDecodeRunsTheLoop() throws {
    let model = Fixtures.exports.appendingPathComponent("\(Self.names[0])/model.onnx").path
    let result = try CLI.run(["bench", "decode", model, "--prefill", "5", "--steps", "3", "--repeat", "2", "--threads", "1", "--format", "json"])
    #expect(result.status == 0, "\(result.stderr)")
    let report = try #require(try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any])
    #expect((report["step_ms"] as? [Double])?.count == 3)
    #expect((report["prefill_ms"] as? [Double])?.count == 2)
    #expect((report["tokens"] as? [Int])?.count == 3)
  }

  @Test func benchDecodeRefusesAModelWithoutACache() throws {
    let model = Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny/model.onnx").path
    let result = try CLI.run(["bench", "decode", model, "--prefill", "4", "--steps", "1"])
    #expect(result.status == 2)
    #expect(result.stderr.contains("past inputs paired with present outputs"), "\(result.stderr)")
  }
}
