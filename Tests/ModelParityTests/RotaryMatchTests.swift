import AttncCodegen
import AttncIR
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `match-rotary` on the exporters' rotary embeddings (`Tests/Fixtures/exports`: Llama and Qwen2
/// rotate-half on the whole head, GPT-NeoX and Phi on a prefix with the rest passed through, GPT-J
/// interleaved on a prefix; legacy and dynamo, eager and SDPA, with and without a KV cache): every
/// one becomes a `FusedRotary`, and plans with and without the pass agree.
@Suite(.serialized) struct RotaryMatchTests {
  static var names: [String] {
    Fixtures.exportNames.filter { name in ["llama", "qwen2", "gpt_neox", "phi", "gptj"].contains { name.hasPrefix($0 + "_") } }
  }

  static func path(_ name: String) -> String { Fixtures.exports.appendingPathComponent("\(name)/model.onnx").path }

  @Test(.enabled(if: !names.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: names)
  func everyRotaryIsMatched(name: String) throws {
    var graph = try ModelLoader.load(Self.path(name)).canonical
    try AttentionMatching.pipeline.run(&graph)
    let rotaries = graph.nodes.compactMap { $0.op as? FusedRotary }
    // Q and K of two layers; no rotate-half Neg is left.
    #expect(rotaries.count == 4, "\(name)")
    #expect(!graph.nodes.contains { $0.opType == "Neg" }, "\(name)")
    // GPT-NeoX rotates 4 of 16 features (rotary_pct 0.25), Phi 8 of 16 (partial_rotary_factor 0.5),
    // GPT-J 8 of 16 in neighbouring pairs (rotary_dim 8, rotate_every_two).
    let expected = name.hasPrefix("gpt_neox") ? 4 : name.hasPrefix("phi") || name.hasPrefix("gptj") ? 8 : 0
    #expect(rotaries.allSatisfy { $0.rotaryDim == expected && $0.interleaved == name.hasPrefix("gptj") }, "\(name)")
    #expect(MatchRotary.analyze(try ModelLoader.load(Self.path(name)).canonical).all == 4)
  }

  /// The plan with `match-rotary` against the plan without it, on the fixture's inputs.
  @Test(.enabled(if: !names.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: names)
  func fusedRotaryMatchesTheUnfusedGraph(name: String) throws {
    let canonical = try ModelLoader.load(Self.path(name)).canonical
    func plan(_ pipeline: Pipeline) throws -> Plan {
      var graph = canonical
      try pipeline.run(&graph)
      try Fusion.run(&graph)
      return try Lower.plan(graph, sourceSHA256: [UInt8](repeating: 0, count: 32), producer: "test", policy: "exact")
    }
    let fused = try plan(AttentionMatching.pipeline)
    let unfused = try plan(Pipeline([MatchAttention.pass, EliminateDeadNodes.pass]))
    #expect(fused.instructions.filter { $0.kernel == "RotaryEmbedding" }.count == 4)
    #expect(unfused.instructions.filter { $0.kernel == "RotaryEmbedding" }.isEmpty)
    let data = Fixtures.exports.appendingPathComponent("\(name)/test_data_set_0")
    let inputs = try TestDataSet.inputs(data, count: fused.inputs.count)
    let (a, b) = (try Interpreter(plan: fused).run(inputs), try Interpreter(plan: unfused).run(inputs))
    for (x, y) in zip(a, b) {
      let comparison = Comparison(x, y, relative: 1e-4, absolute: 1e-6)
      #expect(comparison.withinTolerance, "\(name): max abs difference \(comparison.maxAbsolute)")
    }
  }
}
