import AttncIR
import AttncKit
import AttncPasses
import AttncTestSupport
import Testing

/// The lowering-stage fusions on real exports: every spelled-out GELU becomes one `Gelu`, MatMul
/// epilogues fold into `FusedMatMul`, and products with a constant weight become `PackedMatMul`.
@Suite struct FusionTests {
  func fused(_ name: String) throws -> Graph {
    var graph = try ModelLoader.load(Fixtures.model(name)).canonical
    try Fusion.run(&graph)
    try graph.verify()
    return graph
  }

  func count(_ graph: Graph, _ type: String) -> Int {
    graph.nodes.filter { $0.opType == type }.count
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func bertErfGeluAndEpilogues() throws {
    let graph = try fused("bert_mini_legacy")
    // 4 layers: Q, K, V, output, FFN up (+GELU), FFN down (+residual) and QKᵀ (+scale, mask,
    // softmax) are fused; the attention-times-V MatMul has no epilogue. The six products with a
    // weight read it packed; QKᵀ (two activations) stays a FusedMatMul.
    #expect(count(graph, "Erf") == 0)
    #expect(count(graph, "Softmax") == 0)
    #expect(count(graph, "PackedMatMul") == 4 * 6)
    #expect(count(graph, "FusedMatMul") == 4)
    #expect(count(graph, "MatMul") == 4)
    let packed = graph.nodes.compactMap { $0.op as? PackedMatMul }
    #expect(packed.filter { $0.activation == .gelu }.count == 4)
    #expect(graph.nodes.compactMap { $0.op as? FusedMatMul }.filter { $0.activation == .softmax }.count == 4)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func gpt2TanhGelu() throws {
    let graph = try fused("gpt2_mini_dynamo")
    #expect(count(graph, "Tanh") == 0)
    #expect(count(graph, "Pow") == 0)
    // The dynamo export reshapes [batch·seq, n] → [batch, seq, n] between the MatMul and the
    // GELU, which ends the epilogue chain: the GELU stays a node of its own.
    let gelus = graph.nodes.compactMap { $0.op as? Unary }.filter { $0.function == .gelu(tanh: true) }
    #expect(gelus.count == 4)
  }
}
