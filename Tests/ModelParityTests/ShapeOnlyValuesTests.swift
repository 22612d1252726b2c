import AttncKit
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// What depends only on weights and input shapes (here Llama's rotary cos/sin tables, built from
/// `Range(seq)`) runs on the first call at a shape and is taken from the interpreter's cache on
/// later calls at that shape; outputs are the same as a fresh interpreter's, shape after shape.
@Suite struct ShapeOnlyValuesTests {
  static let exports = Fixtures.packageRoot.appendingPathComponent("Tests/Fixtures/exports")

  func inputs(_ plan: Plan, seq: Int) throws -> [HostTensor] {
    try Benchmark.inputs(for: plan, bindings: ["batch": 1, "seq": seq])
  }

  @Test func laterCallsSkipShapeOnlyInstructionsAndAgree() throws {
    let path = Self.exports.appendingPathComponent("llama_sdpa_dynamo/model.onnx").path
    try #require(FileManager.default.fileExists(atPath: path), "Tests/Fixtures/exports/llama_sdpa_dynamo is missing")
    let plan = try Compiler.plan(path, policy: "exact").plan
    let once = ShapeOnlyValues(plan) { _ in nil }
    #expect(!once.isEmpty)
    let interpreter = try Interpreter(plan: plan)
    for seq in [5, 8, 5, 8] {
      let feeds = try inputs(plan, seq: seq)
      let cachedRun = try interpreter.run(feeds)
      let fresh = try Interpreter(plan: plan).run(feeds)
      #expect(cachedRun.map { $0.floats() } == fresh.map { $0.floats() })
    }
    // The last two calls found their shapes cached.
    #expect(interpreter.skippedInstructions == once.instructions.filter { $0 }.count)
    #expect(interpreter.skippedInstructions > 0)
  }

  /// An observer sees every instruction: nothing is skipped while one is set.
  @Test func anObserverSeesEveryInstruction() throws {
    let path = Self.exports.appendingPathComponent("llama_sdpa_dynamo/model.onnx").path
    try #require(FileManager.default.fileExists(atPath: path), "Tests/Fixtures/exports/llama_sdpa_dynamo is missing")
    let plan = try Compiler.plan(path, policy: "exact").plan
    let interpreter = try Interpreter(plan: plan)
    let feeds = try inputs(plan, seq: 6)
    _ = try interpreter.run(feeds)
    var seen = 0
    interpreter.observer = { _, _, _ in seen += 1 }
    _ = try interpreter.run(feeds)
    #expect(seen == plan.instructions.count)
    #expect(interpreter.skippedInstructions == 0)
  }
}
