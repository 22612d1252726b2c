import AttncIR
import AttncKit
import AttncPasses
import AttncTensor
import AttncTestSupport
import Foundation
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
    // The dynamo export multiplies [batch·seq, k] views and reshapes the products back to
    // [batch, seq, n]; unflattened, the Reshape pairs cancel and each layer's FFN GELU and both
    // residual adds join the products' epilogues.
    let gelus = graph.nodes.compactMap { $0.op as? Unary }.filter { $0.function == .gelu(tanh: true) }
    #expect(gelus.isEmpty)
    let packed = graph.nodes.compactMap { $0.op as? PackedMatMul }
    #expect(packed.count == 4 * 4)
    #expect(packed.filter { $0.activation == .geluTanh }.count == 4)
    let residuals = graph.nodes.filter { $0.op is PackedMatMul && $0.inputs.count == 3 }
    #expect(residuals.count == 4 * 2)
    #expect(count(graph, "Add") == 1)
  }

  /// A linear layer written the dynamo way: x `[batch, seq, 4]` viewed as `[-1, 4]`, multiplied,
  /// reshaped back to `[batch, seq, 6]` by a shape built from x's, then a residual add.
  @Test func unflattensProductsOnFlatViews() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try OnnxBuilder()
      .input("x", ["batch", "seq", "4"])
      .input("r", ["batch", "seq", "6"])
      .initializer(.init(name: "w", dims: [4, 6], floats: (0..<24).map { Float($0) }))
      .initializer(.init(name: "flat", dataType: 7, dims: [2], raw: int64Bytes([-1, 4])))
      .initializer(.init(name: "zero", dataType: 7, dims: [], raw: int64Bytes([0])))
      .initializer(.init(name: "one", dataType: 7, dims: [], raw: int64Bytes([1])))
      .initializer(.init(name: "axes", dataType: 7, dims: [1], raw: int64Bytes([0])))
      .initializer(.init(name: "n", dataType: 7, dims: [1], raw: int64Bytes([6])))
      .node("Reshape", ["x", "flat"], ["view"])
      .node("MatMul", ["view", "w"], ["product"])
      .node("Shape", ["x"], ["shape"])
      .node("Gather", ["shape", "zero"], ["b"])
      .node("Gather", ["shape", "one"], ["s"])
      .node("Unsqueeze", ["b", "axes"], ["b1"])
      .node("Unsqueeze", ["s", "axes"], ["s1"])
      .node("Concat", ["b1", "s1", "n"], ["target"], attributes: [("axis", 0)])
      .node("Reshape", ["product", "target"], ["back"])
      .node("Add", ["back", "r"], ["y"])
      .output("y")
      .write(to: dir)
    var graph = try ModelLoader.load(path).canonical
    try Fusion.run(&graph)
    try graph.verify()
    #expect(graph.opCounts().map(\.type) == ["PackedMatMul"])
    let product = try #require(graph.nodes.first)
    #expect(product.inputs.first == graph.inputs.first && product.outputs == graph.outputs)
    #expect(graph.values[graph.outputs[0]].type?.dims == [Dim.symbol("batch"), Dim.symbol("seq"), Dim(6)])
  }
}
