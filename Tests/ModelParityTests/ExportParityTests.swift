import AttncIR
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Hugging Face models as users export them (`Tests/Fixtures/exports`: BERT, GPT-2, Llama,
/// Qwen2, GPT-NeoX and Phi, `sdpa` and `eager`, legacy and dynamo exporter): every Softmax is
/// matched, and the plan's outputs match ONNX Runtime's on an unpadded batch and on a padded one
/// (left padding for the decoders, so some query rows see no key and SDPA's guard gives zeros).
/// The `*_kv_*` models take a KV cache: 3 new tokens on 5 cached ones, then 1 on 7. The float16
/// and bfloat16 models (`*_float16*`, `*_half_*`, `*_bfloat16_*`) compute in float32 after
/// `widen-narrow-floats` and are compared by the low-precision rule (`ParityRule`: relative
/// Frobenius error ≤ 1e-2, since ONNX Runtime rounds every step to float16); the others element
/// by element (rtol 1e-3, atol 1e-5).
@Suite(.serialized) struct ExportParityTests {

  static var cases: [String] {
    Fixtures.exportNames.flatMap { name in
      let folder = Fixtures.exports.appendingPathComponent(name).path
      return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasPrefix("test_data_set_") }.sorted().map { "\(name)/\($0)" }
    }
  }

  static func path(_ name: String) -> String { Fixtures.exports.appendingPathComponent("\(name)/model.onnx").path }

  @Test(.enabled(if: Fixtures.exportsAvailable, Comment(rawValue: Fixtures.exportsMissing)), arguments: Fixtures.exportNames)
  func everySoftmaxIsMatched(name: String) throws {
    var graph = try ModelLoader.load(Self.path(name)).canonical
    let softmaxes = graph.nodes.filter { $0.opType == "Softmax" }.count
    #expect(softmaxes == 2, "\(name): two layers, one Softmax each")
    let report = MatchAttention.analyze(graph)
    #expect(report.matches.count == softmaxes, "\(name): \(report.declined.map { "\($0.node): \($0.reason)" })")
    if name.hasPrefix("llama") || name.hasPrefix("qwen2") {
      // 4 query heads on 2 KV heads, read without the repeat (folded-key-transpose, repeat-kv).
      #expect(report.matches.allSatisfy { $0.spec.qHeads == 4 && $0.spec.kvHeads == 2 }, "\(name)")
    }
    if !name.hasPrefix("bert") {
      // Causal and key padding, probed from attention_mask: no mask subgraph is left.
      #expect(report.matches.allSatisfy { $0.spec.causal && $0.spec.mask == .keyPadding }, "\(name)")
    }
    try AttentionMatching.pipeline.run(&graph)
    #expect(graph.nodes.filter { $0.op is FusedAttention }.count == softmaxes, "\(name)")
    #expect(!graph.nodes.contains { $0.opType == "Softmax" || $0.opType == "IsNaN" }, "\(name)")
  }

  @Test(.enabled(if: Fixtures.exportsAvailable, Comment(rawValue: Fixtures.exportsMissing)), arguments: cases)
  func matchesOnnxRuntime(testCase: String) throws {
    let parts = testCase.split(separator: "/").map(String.init)
    let plan = try Compiler.plan(Self.path(parts[0])).plan
    #expect(plan.instructions.filter { $0.kernel == "FusedAttention" }.count == 2, "\(testCase)")
    let data = Fixtures.exports.appendingPathComponent(testCase)
    let inputs = try plan.inputs.indices.map { try TensorFiles.readProto(data.appendingPathComponent("input_\($0).pb").path) }
    let outputs = try Interpreter(plan: plan).run(inputs)
    let rule = ParityRule.forPlan(plan)
    let narrow = ["_float16", "_half_", "_bfloat16_"].contains { parts[0].contains($0) }
    #expect(plan.sourcePrecision.isEmpty != narrow, "\(testCase): source precision '\(plan.sourcePrecision)'")
    for (index, output) in outputs.enumerated() {
      let expected = try TensorFiles.readProto(data.appendingPathComponent("output_\(index).pb").path)
      #expect(output.shape == expected.shape, "\(testCase): output \(index) shape")
      #expect(output.dtype == expected.dtype, "\(testCase): output \(index) dtype")
      let (comparison, passed) = rule.compare(output, expected)
      #expect(passed, "\(testCase): output \(index) under \(rule): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative), relative error \(comparison.relativeFrobenius)")
    }
  }
}
