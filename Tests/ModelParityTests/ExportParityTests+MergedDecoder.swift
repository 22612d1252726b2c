import AttncIR
import AttncKit
import AttncONNX
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// Optimum's `decoder_model_merged.onnx`: the decoder without past and the decoder with past as
/// the two branches of one `If` on the graph input `use_cache_branch` (`t5_optimum`, as Optimum
/// exports encoder-decoder models; `gpt2_merged_optimum`, decoder-only as `merge_decoders` made
/// it). Plans have no control flow, so `--branch use_cache_branch=true|false` converts one branch:
/// its attention is matched exactly as in the separate decoder files, its outputs agree with ONNX
/// Runtime's for that condition value (test data set 0: false, the prompt on the zero-length past
/// Optimum feeds; set 1: true, a step on set 0's cache), and a run feeding the other value is
/// refused.
extension ExportParityTests {
  /// `<fixture>/decoder_model_merged`, the merged decoders present.
  static var mergedDecoders: [String] {
    ["t5_optimum", "gpt2_merged_optimum"].map { "\($0)/decoder_model_merged" }.filter {
      FileManager.default.fileExists(atPath: splitPath($0))
    }
  }

  /// The merged decoder's test data set `index` and its condition value (set 0: false, 1: true).
  static func mergedCase(_ model: String, _ index: Int) -> (data: URL, branch: Bool) {
    (Fixtures.exports.appendingPathComponent("\(model)/test_data_set_\(index)"), index == 1)
  }

  static func mergedOptions(_ branch: Bool) -> ImportOptions { ImportOptions(branches: ["use_cache_branch": branch]) }

  /// The inputs of a test data set, in the plan's input order (the graph's, as ONNX Runtime's).
  static func inputs(_ data: URL, for plan: Plan) throws -> [HostTensor] {
    try plan.inputs.indices.map { try TensorFiles.readProto(data.appendingPathComponent("input_\($0).pb").path) }
  }

  static func expectOutputsMatch(_ outputs: [HostTensor], _ plan: Plan, _ data: URL, _ label: String) throws {
    for (index, output) in outputs.enumerated() {
      let expected = try TensorFiles.readProto(data.appendingPathComponent("output_\(index).pb").path)
      #expect(output.shape == expected.shape, "\(label): output \(index) shape")
      let (comparison, passed) = ParityRule.forPlan(plan).compare(output, expected)
      #expect(passed, "\(label): output \(index): max abs error \(comparison.maxAbsolute), max rel error \(comparison.maxRelative)")
    }
  }

  @Test(.enabled(if: !mergedDecoders.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: mergedDecoders, [false, true])
  func eachBranchOfTheMergedDecoderIsMatchedAsItsSplit(model: String, branch: Bool) throws {
    let graph = try ModelLoader.load(Self.splitPath(model), options: Self.mergedOptions(branch)).canonical
    #expect(!graph.nodes.contains { $0.opType == "If" }, "\(model): the If is inlined")
    let report = MatchAttention.analyze(graph)
    let softmaxes = graph.nodes.filter { $0.opType == "Softmax" }.count
    #expect(report.matches.count == softmaxes, "\(model): \(report.declined.map { "\($0.node): \($0.reason)" })")
    if model.hasPrefix("t5") {
      let split = "t5_optimum/\(branch ? "decoder_with_past_model" : "decoder_model")"
      #expect(report.matches.map(\.spec.maskDescription) == Self.expectedMasks(split), "\(model) as \(split)")
    } else {
      #expect(softmaxes == 2 && report.matches.allSatisfy { $0.spec.causal && $0.spec.mask == .keyPadding }, "\(model)")
    }
  }

  @Test(.enabled(if: !mergedDecoders.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: mergedDecoders, [0, 1])
  func eachBranchOfTheMergedDecoderMatchesOnnxRuntime(model: String, set: Int) throws {
    let (data, branch) = Self.mergedCase(model, set)
    let plan = try Compiler.plan(Self.splitPath(model), options: Self.mergedOptions(branch)).plan
    #expect(plan.instructions.filter { $0.kernel == "FusedAttention" }.count == (model.hasPrefix("t5") ? 4 : 2), "\(model)")
    let outputs = try Interpreter(plan: plan).run(try Self.inputs(data, for: plan))
    try Self.expectOutputsMatch(outputs, plan, data, "\(model) branch \(branch)")
  }

  /// A plan refuses a run that feeds the other condition value, naming the input and the option
  /// that converts the other branch (set 1's inputs, whose shapes both branches take, with the
  /// condition flipped for the then-branch plan).
  @Test(.enabled(if: !mergedDecoders.isEmpty, Comment(rawValue: Fixtures.exportsMissing)), arguments: mergedDecoders, [false, true])
  func aMergedDecoderPlanRefusesTheOtherBranch(model: String, fed: Bool) throws {
    let plan = try Compiler.plan(Self.splitPath(model), options: Self.mergedOptions(!fed)).plan
    var inputs = try Self.inputs(Self.mergedCase(model, 1).data, for: plan)
    let condition = try #require(plan.inputs.firstIndex { plan.slots[$0].name == "use_cache_branch" })
    inputs[condition] = HostTensor(dtype: .bool, shape: [1], converting: [fed ? 1 : 0])
    let error = #expect(throws: AttncError.self) { try Interpreter(plan: plan).run(inputs) }
    #expect(
      error?.description.contains(
        "input 'use_cache_branch' is \(fed), but this plan holds only the \(fed ? "else" : "then")_branch of node 'optimum::if' "
          + "(converted with --branch use_cache_branch=\(!fed)): convert the model again with --branch use_cache_branch=\(fed)") == true,
      "\(error?.description ?? "no error")")
  }

  /// A decoder-only model's with-past branch on an empty past computes what its no-past branch
  /// does (ONNX Runtime agrees: both branches give the same outputs on the prompt): one plan,
  /// converted with `use_cache_branch=true`, serves the whole generation when the prompt is fed
  /// with `true` and a zero-length past. (Not so for encoder-decoder models: T5's with-past branch
  /// reads the cross-attention keys from the past instead of the encoder's states.)
  @Test(.enabled(if: mergedDecoders.contains("gpt2_merged_optimum/decoder_model_merged"), Comment(rawValue: Fixtures.exportsMissing)))
  func theDecoderOnlyWithPastBranchServesThePromptOnAnEmptyPast() throws {
    let model = "gpt2_merged_optimum/decoder_model_merged"
    let (data, _) = Self.mergedCase(model, 0)
    let plan = try Compiler.plan(Self.splitPath(model), options: Self.mergedOptions(true)).plan
    var inputs = try Self.inputs(data, for: plan)
    let condition = try #require(plan.inputs.firstIndex { plan.slots[$0].name == "use_cache_branch" })
    #expect(inputs[condition].int64s() == [0])
    inputs[condition] = HostTensor(dtype: .bool, shape: [1], converting: [1.0])
    #expect(inputs.contains { $0.shape == [2, 2, 0, 16] }, "the prompt's past is empty")
    try Self.expectOutputsMatch(try Interpreter(plan: plan).run(inputs), plan, data, "\(model) prompt on the then_branch")
  }

  /// Without `--branch`, the refusal names the `If`, its condition input and the two options.
  @Test func aMergedDecoderWithoutBranchIsRefusedWithTheOptions() throws {
    let merged = OnnxBuilder().input("use_cache_branch", dataType: 9, ["1"])
      .node("If", ["use_cache_branch"], ["logits"], name: "optimum::if").output("logits")
    let (path, error) = try Fixtures.withTemporaryDirectory { directory in
      let path = try merged.write(to: directory, name: "decoder_model_merged.onnx")
      return (path, #expect(throws: AttncError.self) { try Compiler.plan(path) })
    }
    #expect(
      error?.description == "\(path): unsupported op type: If (node 'optimum::if'); "
        + "If, Loop and Scan are control flow, which attnc's plans do not have (an If is read when its condition is a "
        + "constant, or a graph input given with --branch): node 'optimum::if' (If) takes its branch from the graph input "
        + "'use_cache_branch', so convert once per branch, with --branch use_cache_branch=true (then_branch) and "
        + "--branch use_cache_branch=false (else_branch) (Optimum's decoder_model_merged.onnx: true for steps on the cache, "
        + "false for the first)")
  }

  /// `--branch` must name a graph input.
  @Test func aBranchOptionNamingNoInputIsRefused() throws {
    let merged = OnnxBuilder().input("use_cache_branch", dataType: 9, ["1"])
      .node("If", ["use_cache_branch"], ["logits"], name: "optimum::if").output("logits")
    let error = try Fixtures.withTemporaryDirectory { directory in
      let path = try merged.write(to: directory, name: "decoder_model_merged.onnx")
      return #expect(throws: AttncError.self) { try Compiler.plan(path, options: ImportOptions(branches: ["use_cache": true])) }
    }
    #expect(error?.description.hasSuffix("--branch names 'use_cache', which is not a graph input (inputs: 'use_cache_branch')") == true,
            "\(error?.description ?? "")")
  }
}
