import AttncIR
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Encoder-decoder models as Optimum's ONNX exporter splits them (`Tests/Fixtures/exports/
/// <name>_optimum`: T5, BART, Marian, Whisper; `scripts/export_fixtures.py --encoder-decoder-only`):
/// the encoder, the decoder (causal self-attention, cross-attention over the encoder's states,
/// whose key length differs from the query length) and the decoder on a KV cache (one new token
/// on the decoder's own `present.*` as `past_key_values.*`). Every Softmax is matched with the
/// mask the model means, and every output agrees with ONNX Runtime's element by element
/// (rtol 1e-3, atol 1e-5) on an unpadded batch and on one whose second encoder input is padded.
extension ExportParityTests {
  static let encoderDecoderParts = ["encoder_model", "decoder_model", "decoder_with_past_model"]

  /// `<name>_optimum/<part>`, every model of every fixture.
  static var encoderDecoderModels: [String] {
    Fixtures.encoderDecoderNames.flatMap { name in encoderDecoderParts.map { "\(name)/\($0)" } }
  }

  /// `<name>_optimum/<part>/test_data_set_N`.
  static var encoderDecoderCases: [String] {
    encoderDecoderModels.flatMap { model in
      let folder = Fixtures.exports.appendingPathComponent(model).path
      return ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
        .filter { $0.hasPrefix("test_data_set_") }.sorted().map { "\(model)/\($0)" }
    }
  }

  /// The masks each attention layer should match with, in graph order: T5 adds its relative
  /// position bias (and in the encoder the padding) as a bias; its cross-attention, like BART's
  /// and Marian's, reads the encoder's padding mask; Whisper's encoder and cross-attention have no mask.
  static func expectedMasks(_ model: String) -> [String] {
    let (name, part) = (model.split(separator: "/")[0], model.split(separator: "/")[1])
    switch (name, part) {
    case ("t5_optimum", "encoder_model"): return ["additive_bias", "additive_bias"]
    case ("t5_optimum", _): return ["causal+additive_bias", "key_padding", "causal+additive_bias", "key_padding"]
    case ("bart_optimum", "encoder_model"), ("marian_optimum", "encoder_model"): return ["key_padding", "key_padding"]
    case ("bart_optimum", _), ("marian_optimum", _): return ["causal", "key_padding", "causal", "key_padding"]
    case ("whisper_optimum", "encoder_model"): return ["none", "none"]
    default: return ["causal", "none", "causal", "none"]
    }
  }

  static func splitPath(_ model: String) -> String { Fixtures.exports.appendingPathComponent("\(model).onnx").path }

  @Test(.enabled(if: !Fixtures.encoderDecoderNames.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: encoderDecoderModels)
  func everySoftmaxOfTheSplitIsMatched(model: String) throws {
    let graph = try ModelLoader.load(Self.splitPath(model)).canonical
    let softmaxes = graph.nodes.filter { $0.opType == "Softmax" }.count
    #expect(softmaxes == (model.hasSuffix("encoder_model") ? 2 : 4), "\(model): one Softmax per attention")
    let report = MatchAttention.analyze(graph)
    #expect(report.matches.count == softmaxes, "\(model): \(report.declined.map { "\($0.node): \($0.reason)" })")
    #expect(report.matches.map(\.spec.maskDescription) == Self.expectedMasks(model), "\(model)")
    if !model.hasSuffix("encoder_model") {
      // Cross-attention (every second layer) reads the encoder's length, not the decoder's.
      let cross = report.matches.enumerated().filter { $0.offset % 2 == 1 }.map(\.element)
      #expect(cross.allSatisfy { $0.keys != $0.queries && !$0.spec.causal }, "\(model): \(cross.map { "\($0.queries) × \($0.keys)" })")
    }
  }

  @Test(.enabled(if: !Fixtures.encoderDecoderNames.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: encoderDecoderCases)
  func theSplitMatchesOnnxRuntime(testCase: String) throws {
    let parts = testCase.split(separator: "/").map(String.init)
    let plan = try Compiler.plan(Self.splitPath("\(parts[0])/\(parts[1])")).plan
    #expect(plan.instructions.filter { $0.kernel == "FusedAttention" }.count == (parts[1] == "encoder_model" ? 2 : 4), "\(testCase)")
    let data = Fixtures.exports.appendingPathComponent(testCase)
    let inputs = try plan.inputs.indices.map { try TensorFiles.readProto(data.appendingPathComponent("input_\($0).pb").path) }
    let outputs = try Interpreter(plan: plan).run(inputs)
    let rule = ParityRule.forPlan(plan)
    #expect(rule.kind == .elementwise(relative: 1e-3, absolute: 1e-5))
    for (index, output) in outputs.enumerated() {
      let expected = try TensorFiles.readProto(data.appendingPathComponent("output_\(index).pb").path)
      #expect(output.shape == expected.shape, "\(testCase): output \(index) shape")
      let (comparison, passed) = rule.compare(output, expected)
      #expect(passed, "\(testCase): output \(index): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative)")
    }
  }
}
