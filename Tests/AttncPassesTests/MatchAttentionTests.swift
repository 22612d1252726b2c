import AttncIR
import AttncKit
import AttncONNX
import AttncPasses
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `match-attention` on every real export in shared/models and on small hand-built graphs.
@Suite struct MatchAttentionTests {
  func count(_ graph: Graph, _ type: String) -> Int { graph.nodes.filter { $0.opType == type }.count }

  func matched(_ name: String) throws -> (report: MatchAttention.Report, graph: Graph, softmaxes: Int) {
    var graph = try ModelLoader.load(Fixtures.model(name)).canonical
    // Exported attention has one Softmax each; the ONNX Attention op is an attention of its own.
    let softmaxes = count(graph, "Softmax") + count(graph, "Attention")
    let report = MatchAttention.analyze(graph)
    try AttentionMatching.pipeline.run(&graph)
    try graph.verify()
    return (report, graph, softmaxes)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func everySoftmaxOfEveryModelIsMatched() throws {
    for name in Fixtures.modelNames {
      let (report, graph, softmaxes) = try matched(name)
      #expect(report.matches.count == softmaxes, "\(name): \(report.declined.map(\.reason))")
      #expect(report.declined.isEmpty, "\(name)")
      #expect(count(graph, "Softmax") == 0 && count(graph, "Attention") == 0, "\(name)")
      #expect(count(graph, "FusedAttention") == softmaxes, "\(name)")
    }
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func bertKeyPaddingFromTheAttentionMask() throws {
    for name in ["bert_mini_legacy", "bert_tiny_dynamo"] {
      let (report, graph, _) = try matched(name)
      let spec = try #require(report.matches.first?.spec)
      #expect(spec.mask == .keyPadding && !spec.causal, "\(name)")
      #expect(spec.maskFill <= -1e4, "\(name)")
      #expect(spec.scale == 1 / Float(spec.headDim).squareRoot(), "\(name)")
      // The mask input is the model's attention_mask itself: its construction is gone.
      let attention = try #require(graph.nodes.first { $0.op is FusedAttention })
      let mask = try #require(attention.inputs[3])
      #expect(graph.inputs.contains(mask) && graph.values[mask].name == "attention_mask", "\(name)")
      #expect(count(graph, "Where") == 0, "\(name)")
    }
    #expect(try matched("bert_mini_legacy").report.matches.first?.spec.qHeads == 12)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func gpt2CausalMaskIsRecognisedAndDropped() throws {
    let (report, graph, _) = try matched("gpt2_tiny_dynamo")
    for match in report.matches {
      #expect(match.spec.causal && match.spec.mask == .none)
    }
    #expect(graph.nodes.filter { $0.op is FusedAttention }.allSatisfy { $0.inputs.count == 3 })
    #expect(count(graph, "GatherND") == 0 && count(graph, "CumSum") == 0)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func llamaGroupedHeadsReadWithoutTheRepeat() throws {
    let (report, graph, _) = try matched("llama_tiny_dynamo")
    for match in report.matches {
      #expect(match.spec.qHeads == 4 && match.spec.kvHeads == 2 && match.spec.causal)
    }
    #expect(count(graph, "Expand") == 0)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func vitHasNoMaskAndAConcreteLength() throws {
    let (report, _, _) = try matched("vit_tiny_legacy")
    for match in report.matches {
      #expect(match.spec.mask == .none && !match.spec.causal && match.queries == Dim(65))
    }
  }

  /// Writes `builder` to a temporary folder and loads it.
  func load(_ builder: OnnxBuilder) throws -> LoadedModel {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    return try ModelLoader.load(try builder.write(to: dir))
  }

  @Test func aSoftmaxThatIsNotAttentionIsReportedWithTheReason() throws {
    let model = try load(
      OnnxBuilder().input("x", ["2", "3", "4", "4"])
        .node("Softmax", ["x"], ["y"], attributes: [("axis", -1)])
        .output("y"))
    let report = MatchAttention.analyze(model.canonical)
    #expect(report.matches.isEmpty)
    #expect(report.declined.first?.reason.contains("left operand of a MatMul") == true)
  }

  @Test func aSoftmaxOverTheQueryAxisIsLeftExact() throws {
    let model = try load(
      OnnxBuilder().input("q", ["1", "2", "5", "4"]).input("kt", ["1", "2", "4", "5"]).input("v", ["1", "2", "5", "4"])
        .node("MatMul", ["q", "kt"], ["s"])
        .node("Softmax", ["s"], ["p"], attributes: [("axis", 2)])
        .node("MatMul", ["p", "v"], ["y"])
        .output("y"))
    let report = MatchAttention.analyze(model.canonical)
    #expect(report.matches.isEmpty)
    #expect(report.declined.first?.reason.contains("not the key axis") == true)
  }

  @Test func sqrtScaleOnBothOperandsMultiplies() throws {
    let half = OnnxBuilder.Tensor(name: "c", dims: [], floats: [0.5])
    let model = try load(
      OnnxBuilder().input("q", ["b", "2", "s", "4"]).input("kt", ["b", "2", "4", "s"]).input("v", ["b", "2", "s", "3"])
        .initializer(half)
        .node("Mul", ["q", "c"], ["qs"])
        .node("Mul", ["kt", "c"], ["kts"])
        .node("MatMul", ["qs", "kts"], ["s"])
        .node("Softmax", ["s"], ["p"], attributes: [("axis", -1)])
        .node("MatMul", ["p", "v"], ["y"])
        .output("y"))
    let report = MatchAttention.analyze(model.canonical)
    #expect(report.declined.isEmpty, "\(report.declined.map(\.reason))")
    let spec = try #require(report.matches.first?.spec)
    #expect(spec.scale == 0.25 && spec.mask == .none && spec.headDim == 4 && spec.valueDim == 3)
    // kᵀ is a graph input: the match reads K through a transpose of its own.
    var graph = model.canonical
    try AttentionMatching.pipeline.run(&graph)
    #expect(count(graph, "Transpose") == 1 && count(graph, "FusedAttention") == 1 && count(graph, "Mul") == 0)
  }
}
