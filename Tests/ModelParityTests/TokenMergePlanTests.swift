import AttncCodegen
@testable import AttncCost
import AttncIR
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// The `merge-tokens` pass end to end: schedules, block detection, the rewritten graph's shapes,
/// plans that run and keep their output shapes, padding, refusals.
@Suite struct TokenMergePlanTests {
  static let bertTiny = Fixtures.packageRoot.appendingPathComponent("samples/bert_tiny/model.onnx").path

  /// `input_ids` (random ids below 1000) and `attention_mask` with the last `padded` positions of
  /// batch item 1 masked.
  static func bertInputs(_ plan: Plan, batch: Int, length: Int, padded: Int, seed: UInt64 = 11) -> [HostTensor] {
    var generator = LinearCongruentialGenerator(state: seed)
    return plan.inputs.map { slot in
      var values = [Int64](repeating: 1, count: batch * length)
      if plan.slots[slot].name == "attention_mask" {
        if batch > 1 { for j in (length - padded)..<length { values[length + j] = 0 } }
      } else {
        values = values.map { _ in Int64(generator.next() >> 33) % 1000 }
      }
      return HostTensor(dtype: .int64, shape: [batch, length], integers: values)
    }
  }

  static func convert(_ path: String, _ schedule: String?) throws -> Compiler.Conversion {
    var options = ConversionOptions(policy: .exact)
    options.tokenMerge = try schedule.map(TokenMergeSchedule.init(parsing:))
    return try Compiler.convert(path, conversion: options)
  }

  @Test func schedulesParseAndExpandPerBlock() throws {
    #expect(try TokenMergeSchedule(parsing: "8").rates(blocks: 3) == [8, 8, 8])
    #expect(try TokenMergeSchedule(parsing: "8:decreasing").rates(blocks: 5) == [16, 12, 8, 4, 0])
    #expect(try TokenMergeSchedule(parsing: "4,2").rates(blocks: 3) == [4, 2, 0])
    #expect(try TokenMergeSchedule(parsing: "auto").rates(blocks: 3) == nil)
    for bad in ["-1", "x", "4,,2", "8:fast"] {
      #expect(throws: AttncError.self, "\(bad)") { _ = try TokenMergeSchedule(parsing: bad) }
    }
  }

  @Test func bertBlocksArePostNormWithTheMergeAfterTheAttentionNorm() throws {
    var graph = try ModelLoader.load(Self.bertTiny).canonical
    try AttentionMatching.pipeline.run(&graph)
    let blocks = try MergeTokens.blocks(graph)
    #expect(blocks.count == 2)
    for block in blocks {
      // Post-norm: the merge point is the attention output's LayerNorm, which the MLP and the
      // next residual both read.
      #expect(graph.values[block.mergePoint].name.contains("attention/output/LayerNorm"))
    }
    let report = try MergeTokens.apply([8, 8], to: &graph)
    #expect(report.lengths.map(\.description) == ["seq", "seq - 8"])
    #expect(report.merges == 2 && report.unmerges == 1)
    #expect(graph.values[graph.outputs[0]].type?.dims.map(\.description) == ["batch", "seq", "64"])
  }

  @Test func mergingNothingIsExactlyTheOriginalModel() throws {
    // Every merge node in place with r = 0: matching, sizes as key weights, unmerge.
    var graph = try ModelLoader.load(Self.bertTiny).canonical
    try AttentionMatching.pipeline.run(&graph)
    var merged = graph
    let report = try MergeTokens.apply([0, 0], to: &merged, insertingEmptyMerges: true)
    #expect(report.merges == 2)
    let exact = try Self.convert(Self.bertTiny, nil).plan
    // Lowered as the compiler lowers (epilogue fusion first), so both plans round alike.
    try Fusion.run(&merged)
    let plan = try Lower.plan(merged, sourceSHA256: [UInt8](repeating: 0, count: 32), producer: "test", policy: "exact")
    #expect(plan.instructions.contains { $0.kernel == "TokenMerge" })
    let inputs = Self.bertInputs(exact, batch: 2, length: 24, padded: 7)
    let expected = try Interpreter(plan: exact).run(inputs)
    let actual = try Interpreter(plan: plan).run(inputs)
    #expect(actual[0].shape == expected[0].shape)
    let difference = zip(actual[0].floats(), expected[0].floats()).map { abs($0 - $1) }.max() ?? .infinity
    #expect(difference == 0, "largest difference \(difference)")
  }

  @Test func mergedPlansRunKeepShapesAndStayCloseToExact() throws {
    let exact = try Self.convert(Self.bertTiny, nil).plan
    let merged = try Self.convert(Self.bertTiny, "8")
    #expect(merged.tokenMerge?.rates == [8, 8])
    let inputs = Self.bertInputs(exact, batch: 2, length: 64, padded: 20)
    let expected = try Interpreter(plan: exact).run(inputs)
    let actual = try Interpreter(plan: merged.plan).run(inputs)
    #expect(actual[0].shape == [2, 64, 64])
    let error = AttentionQuality.relativeError(actual[0].floats()[...], expected[0].floats()[...])
    #expect(error > 0 && error < 0.5, "relative output error \(error)")
  }

  @Test func aClassTokenOutputNeedsNoUnmerge() throws {
    // bert_tiny with its output replaced by the first token's row (a pooled output): the pass
    // proves the Gather of position 0 reads a token that never merges, so no unmerge is added,
    // and the pooled output equals row 0 of the per-token merged model.
    var graph = try ModelLoader.load(Self.bertTiny).canonical
    try AttentionMatching.pipeline.run(&graph)
    var perToken = graph
    try MergeTokens.apply([8, 8], to: &perToken)
    let hidden = graph.outputs[0]
    let index = graph.addConstant(HostTensor(dtype: .int64, shape: [], integers: [0]), name: "first")
    let pooled = graph.addValue(Value(name: "pooled"))
    graph.nodes.append(Node(
      name: "pool", opType: "Gather", inputs: [hidden, index], outputs: [pooled],
      attributes: Attributes(["axis": .int(1)]), opset: 17, op: try Gather(attributes: Attributes(["axis": .int(1)]), opset: 17)))
    graph.outputs = [pooled]
    let report = try MergeTokens.apply([8, 8], to: &graph)
    #expect(report.unmerges == 0)
    #expect(graph.values[graph.outputs[0]].type?.dims.map(\.description) == ["batch", "64"])
    func plan(_ graph: Graph) throws -> Plan {
      try Lower.plan(graph, sourceSHA256: [UInt8](repeating: 0, count: 32), producer: "test", policy: "exact")
    }
    let pooledPlan = try plan(graph), perTokenPlan = try plan(perToken)
    let inputs = Self.bertInputs(pooledPlan, batch: 2, length: 48, padded: 10)
    let rows = try Interpreter(plan: perTokenPlan).run(inputs)[0].floats()
    let first = try Interpreter(plan: pooledPlan).run(inputs)[0].floats()
    #expect(first == Array(rows[0..<64]) + Array(rows[(48 * 64)..<(49 * 64)]))
  }

  /// A ViT whose LayerNorms are spelled out (`ReduceMean` … `Div`, as the legacy exporter writes
  /// below opset 17, like the real ViT-S of `real-models.sh`): the reductions over the feature
  /// axis act per token, so the stream stays merged from block to block (one unmerge, at the
  /// per-token output; none for the class-token pooler) and the plan runs. It failed at run
  /// ("sizes must be float [1, 4097], got [1, 4089]") when every ReduceMean unmerged the stream.
  @Test(.enabled(if: Fixtures.exportsAvailable, Comment(rawValue: Fixtures.exportsMissing)))
  func spelledOutNormsKeepTheStreamMerged() throws {
    let folder = Fixtures.exports.appendingPathComponent("vit_opset16_legacy")
    let path = folder.appendingPathComponent("model.onnx").path
    let exact = try Self.convert(path, nil)
    let merged = try Self.convert(path, "4")
    #expect(merged.tokenMerge?.rates == [4, 4])
    #expect(merged.tokenMerge?.unmerges == 1)
    let inputs = try TestDataSet.inputs(folder.appendingPathComponent("test_data_set_0"), count: exact.plan.inputs.count)
    let expected = try Interpreter(plan: exact.plan).run(inputs)
    let actual = try Interpreter(plan: merged.plan).run(inputs)
    #expect(actual.map(\.shape) == expected.map(\.shape))
    let hidden = AttentionQuality.relativeError(actual[0].floats()[...], expected[0].floats()[...])
    let pooled = AttentionQuality.relativeError(actual[1].floats()[...], expected[1].floats()[...])
    #expect(hidden > 0 && pooled > 0 && pooled < hidden, "per-token error \(hidden), pooled \(pooled)")
  }

  @Test func autoSearchSteps() {
    // Only a feasible point: grow by the budget's ratio, at least 1.25x, at most 4x.
    #expect(TokenMergePlanner.nextRate(feasible: (100, 0.001), infeasible: nil, budget: 0.01, largest: 2048) == 400)
    #expect(TokenMergePlanner.nextRate(feasible: (100, 0.0099), infeasible: nil, budget: 0.01, largest: 2048) == 125)
    // Nothing measured: the middle of the range.
    #expect(TokenMergePlanner.nextRate(feasible: (0, 0), infeasible: nil, budget: 0.01, largest: 2048) == 1025)
    // Only an infeasible point: shrink by the ratio, at most to a quarter.
    #expect(TokenMergePlanner.nextRate(feasible: (0, 0), infeasible: (128, 0.02), budget: 0.01, largest: 2048) == 64)
    #expect(TokenMergePlanner.nextRate(feasible: (0, 0), infeasible: (128, 1), budget: 0.01, largest: 2048) == 32)
    // Both: the power law through them (error ∝ r² here: 0.0025 at 50, 0.04 at 200 → r = 100),
    // kept in the bracket's middle half.
    #expect(TokenMergePlanner.nextRate(feasible: (50, 0.0025), infeasible: (200, 0.04), budget: 0.01, largest: 2048) == 100)
    #expect(TokenMergePlanner.nextRate(feasible: (100, 0.0099), infeasible: (200, 0.5), budget: 0.01, largest: 2048) == 125)
    // Never past the largest merge a block allows.
    #expect(TokenMergePlanner.nextRate(feasible: (1000, 0.0001), infeasible: nil, budget: 0.01, largest: 1500) == 1500)
  }

  @Test func paddingNeverReachesRealTokens() throws {
    // Two batches that differ only in the ids at padded positions give the same outputs at the
    // real positions: padding never merges and weighs 0 as a key.
    let plan = try Self.convert(Self.bertTiny, "6").plan
    let (length, padded) = (40, 12)
    let first = Self.bertInputs(plan, batch: 2, length: length, padded: padded, seed: 3)
    var second = first
    let ids = plan.inputs.firstIndex { plan.slots[$0].name == "input_ids" }!
    var values = first[ids].int64s()
    for j in (length - padded)..<length { values[length + j] = (values[length + j] + 17) % 1000 }
    second[ids] = HostTensor(dtype: .int64, shape: [2, length], integers: values)
    let a = try Interpreter(plan: plan).run(first)[0].floats()
    let b = try Interpreter(plan: plan).run(second)[0].floats()
    let width = 64
    let realOfItem1 = (length * width)..<((2 * length - padded) * width)
    #expect(Array(a[realOfItem1]) == Array(b[realOfItem1]))
    #expect(Array(a[0..<(length * width)]) == Array(b[0..<(length * width)]))
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func causalDecodersAreRefused() throws {
    do {
      _ = try Self.convert(Fixtures.model("gpt2_tiny_dynamo"), "8")
      Issue.record("a causal decoder was merged")
    } catch let error as AttncError {
      #expect(error.message.contains("causal"), "\(error.message)")
    }
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func vitMergesUpToHalfItsTokensPerBlock() throws {
    let path = Fixtures.model("vit_tiny_legacy")
    let exact = try Self.convert(path, nil).plan
    var generator = LinearCongruentialGenerator(state: 5)
    let pixels = HostTensor(
      floats: (0..<(2 * 3 * 64 * 64)).map { _ in Float(Int64(generator.next() >> 33) % 2001 - 1000) / 1000 },
      shape: [2, 3, 64, 64])
    let expected = try Interpreter(plan: exact).run([pixels])[0]
    // 65 tokens: r = 8 per block, and the most each block may merge (32, then 16).
    for (schedule, rates) in [("8", [8, 8]), ("100", [32, 16])] {
      let merged = try Self.convert(path, schedule)
      #expect(merged.tokenMerge?.rates == rates)
      #expect(merged.tokenMerge?.lengths.compactMap(\.value) == [65, 65 - rates[0]])
      let output = try Interpreter(plan: merged.plan).run([pixels])[0]
      #expect(output.shape == expected.shape)
      let error = AttentionQuality.relativeError(output.floats()[...], expected.floats()[...])
      #expect(error > 0 && error < 1, "\(schedule): relative output error \(error)")
    }
  }
}
