import AttncCodegen
import AttncCost
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Every `test_data_set_N` of every model in `shared/models` (and the bundled sample) through
/// the conversion pipeline (canonicalize → fuse → lower) and the interpreter, compared with ONNX Runtime's outputs (rtol 1e-3, atol 1e-5).
@Suite(.serialized) struct ModelParityTests {
  static let tolerance = (relative: 1e-3, absolute: 1e-5)

  static var cases: [String] {
    var result: [String] = []
    for name in Fixtures.modelNames {
      guard let shared = Fixtures.shared else { break }
      let folder = shared.appendingPathComponent("models/\(name)")
      let sets = ((try? FileManager.default.contentsOfDirectory(atPath: folder.path)) ?? [])
        .filter { $0.hasPrefix("test_data_set_") }.sorted()
      result += sets.map { "\(name)/\($0)" }
    }
    // ATTNC_MODEL_FILTER=vit runs only the matching cases (for development).
    if let filter = ProcessInfo.processInfo.environment["ATTNC_MODEL_FILTER"], !filter.isEmpty {
      result = result.filter { $0.contains(filter) }
    }
    return result
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)), arguments: cases)
  func matchesOnnxRuntime(testCase: String) throws {
    let shared = try #require(Fixtures.shared)
    let parts = testCase.split(separator: "/").map(String.init)
    let folder = shared.appendingPathComponent("models/\(parts[0])")
    let plan = try Compiler.plan(folder.appendingPathComponent("model.onnx").path).plan
    let data = folder.appendingPathComponent(parts[1])
    let inputs = try plan.inputs.indices.map { try TensorFiles.readProto(data.appendingPathComponent("input_\($0).pb").path) }
    let interpreter = try Interpreter(plan: plan)
    let outputs = try interpreter.run(inputs)
    // The arena changes where values live, never their numbers; and it reuses memory.
    let withoutArena = try Interpreter(plan: plan)
    withoutArena.usesArena = false
    let plain = try withoutArena.run(inputs)
    for (planned, reference) in zip(outputs, plain) {
      #expect(planned.shape == reference.shape && Array(planned.storage.bytes) == Array(reference.storage.bytes), "arena and plain runs differ")
    }
    let arena = try #require(interpreter.lastArena)
    let everyValue = arena.counts.values.reduce(0) { $0 + $1 * 4 }
    #expect(arena.bytes >= arena.liveBytes && arena.bytes < everyValue, "arena \(arena.bytes) bytes, \(everyValue) bytes of values")
    var compared = 0
    for (index, output) in outputs.enumerated() {
      let path = data.appendingPathComponent("output_\(index).pb").path
      guard FileManager.default.fileExists(atPath: path) else { continue }
      let expected = try TensorFiles.readProto(path)
      compared += 1
      #expect(output.shape == expected.shape, "output \(index) shape")
      let comparison = Comparison(output, expected, relative: Self.tolerance.relative, absolute: Self.tolerance.absolute)
      #expect(comparison.withinTolerance, "output \(index): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative)")
    }
    #expect(compared > 0, "\(testCase) has no output_N.pb to compare with")
  }
}

/// The test data sets hold unpadded batches of one: matched attention (key-padding and causal
/// masks recognised by probing, GQA read in place) is checked here against the same model with
/// every Softmax left as exported, on a padded batch of three (right and left padding).
@Suite struct MatchedAttentionParityTests {
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)),
        arguments: ["bert_mini_legacy", "bert_tiny_dynamo", "bert_tiny_legacy", "gpt2_tiny_dynamo", "llama_tiny_dynamo"])
  func matchedEqualsUnmatchedOnPaddedBatches(name: String) throws {
    let path = Fixtures.model(name)
    let plan = try Compiler.plan(path).plan
    var unmatched = try ModelLoader.load(path).canonical
    try Fusion.run(&unmatched)
    let reference = try Lower.plan(unmatched, sourceSHA256: [UInt8](repeating: 0, count: 32), producer: "test", policy: "exact")
    #expect(plan.instructions.contains { $0.kernel == "FusedAttention" })
    #expect(!reference.instructions.contains { $0.kernel == "FusedAttention" })
    let (batch, length) = (3, 37)
    var generator = LinearCongruentialGenerator(state: 7)
    let inputs = plan.inputs.map { slot -> HostTensor in
      var values = [Int64](repeating: 1, count: batch * length)
      if plan.slots[slot].name == "attention_mask" {
        for j in 30..<length { values[length + j] = 0 }
        for j in 0..<5 { values[2 * length + j] = 0 }
      } else {
        values = values.map { _ in Int64(generator.next() >> 33) % 1000 }
      }
      return HostTensor(dtype: .int64, shape: [batch, length], integers: values)
    }
    let outputs = try Interpreter(plan: plan).run(inputs)
    let expected = try Interpreter(plan: reference).run(inputs)
    for (output, wanted) in zip(outputs, expected) {
      let comparison = Comparison(output, wanted, relative: 1e-4, absolute: 1e-5)
      #expect(comparison.withinTolerance, "\(name): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative)")
    }
  }
}

/// A conversion's plan does not depend on what the process converted before it (fresh
/// data-dependent dims are numbered per conversion).
struct ConversionIsolationTests {
  @Test func convertingTwiceInOneProcessGivesTheSameBytes() throws {
    let model = Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny/model.onnx").path
    let options = ConversionOptions(policy: .exact)
    let first = Data(try PlanFile.encode(try Compiler.convert(model, conversion: options).plan))
    let second = Data(try PlanFile.encode(try Compiler.convert(model, conversion: options).plan))
    #expect(first == second)
  }
}
