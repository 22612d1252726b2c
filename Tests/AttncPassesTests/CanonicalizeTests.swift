import AttncIR
import AttncKit
import AttncONNX
import AttncPasses
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

@Suite struct CanonicalizeTests {
  /// Writes `builder` to a temporary folder and loads it.
  func load(_ builder: OnnxBuilder, shapes: [String: [Dim]] = [:]) throws -> LoadedModel {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try builder.write(to: dir)
    return try ModelLoader.load(path, options: ImportOptions(inputShapes: shapes))
  }

  func count(_ graph: Graph, _ type: String) -> Int { graph.nodes.filter { $0.opType == type }.count }
}

// MARK: - Shape arithmetic

extension CanonicalizeTests {
  /// x: [batch, seq, 8] → Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), Unsqueeze(Gather(Shape(x), 1)), [2, 4]))
  var reshapeBySymbolicShape: OnnxBuilder {
    OnnxBuilder()
      .input("x", ["batch", "seq", "8"])
      .initializer(.init(name: "zero", dataType: 7, dims: [], raw: int64Bytes([0])))
      .initializer(.init(name: "one", dataType: 7, dims: [], raw: int64Bytes([1])))
      .initializer(.init(name: "axes", dataType: 7, dims: [1], raw: int64Bytes([0])))
      .initializer(.init(name: "heads", dataType: 7, dims: [2], raw: int64Bytes([2, 4])))
      .node("Shape", ["x"], ["shape"])
      .node("Gather", ["shape", "zero"], ["b"])
      .node("Gather", ["shape", "one"], ["s"])
      .node("Unsqueeze", ["b", "axes"], ["b1"])
      .node("Unsqueeze", ["s", "axes"], ["s1"])
      .node("Concat", ["b1", "s1", "heads"], ["target"], attributes: [("axis", 0)])
      .node("Reshape", ["x", "target"], ["y"], name: "reshape")
      .output("y")
  }

  @Test func foldsShapeArithmeticIntoDimExpressions() throws {
    let model = try load(reshapeBySymbolicShape)
    let graph = model.canonical
    #expect(graph.opCounts().map(\.type) == ["DimExpressions", "Reshape"])
    let expressions = try #require(graph.nodes.first { $0.op is DimExpressions }?.op as? DimExpressions)
    #expect(expressions.dims == [.symbol("batch"), .symbol("seq"), 2, 4])
    let y = try #require(graph.values[graph.outputs[0]].type)
    #expect(y.dims == [.symbol("batch"), .symbol("seq"), 2, 4])
  }

  @Test func foldsShapeArithmeticAwayWithStaticInputShapes() throws {
    let model = try load(reshapeBySymbolicShape, shapes: ["x": [1, 16, 8]])
    #expect(model.canonical.opCounts().map(\.type) == ["Reshape"])
    let y = try #require(model.canonical.values[model.canonical.outputs[0]].type)
    #expect(y.dims == [1, 16, 2, 4])
  }

  @Test func removesIdentityAndKeepsOutputNames() throws {
    let model = try load(
      OnnxBuilder().input("x", ["n"])
        .node("Neg", ["x"], ["a"])
        .node("Identity", ["a"], ["b"])
        .node("Identity", ["b"], ["y"])
        .output("y"))
    let graph = model.canonical
    #expect(graph.opCounts().map(\.type) == ["Neg"])
    #expect(graph.values[graph.outputs[0]].name == "y")
    try graph.verify()
  }

  /// `torch.cat` of a KV cache with an empty start is a one-input Concat: a copy of the cache,
  /// removed (a two-input Concat stays).
  @Test func removesOneInputConcat() throws {
    let model = try load(
      OnnxBuilder().input("past", ["1", "2", "past", "4"]).input("new", ["1", "2", "1", "4"])
        .node("Concat", ["past"], ["copied"], attributes: [("axis", -2)])
        .node("Concat", ["copied", "new"], ["present"], attributes: [("axis", -2)])
        .output("present"))
    let graph = model.canonical
    #expect(graph.opCounts().map(\.type) == ["Concat"])
    #expect(graph.nodes[0].inputs.compactMap { $0 } == [graph.inputs[0], graph.inputs[1]])
    try graph.verify()
  }

  @Test func lowersGemmToMatMulAndAdd() throws {
    let w = (0..<6).map { Float($0) }
    let model = try load(
      OnnxBuilder().input("x", ["n", "3"])
        .initializer(.init(name: "w", dims: [2, 3], floats: w))
        .initializer(.init(name: "b", dims: [2], floats: [1, 2]))
        .node("Gemm", ["x", "w", "b"], ["y"], attributes: [("transB", 1)])
        .output("y"))
    let graph = model.canonical
    #expect(graph.opCounts().map(\.type) == ["Add", "MatMul"])
    let matmul = try #require(graph.nodes.first { $0.opType == "MatMul" })
    let weight = try #require(matmul.inputs[1].flatMap { graph.values[$0].constant })
    #expect(weight.shape == [3, 2])
    #expect(weight.floats() == [0, 3, 1, 4, 2, 5])
  }

  @Test func inlinesLocalFunctionsWithAttributeReferences() throws {
    // local.SoftmaxThenNeg(x) = Neg(Softmax(x, axis = caller's 'dim'))
    let builder = OnnxBuilder().with(opsets: [("", 17), ("local", 1)])
      .function(
        "SoftmaxThenNeg", domain: "local", inputs: ["a"], outputs: ["b"],
        nodes: [
          (type: "Softmax", inputs: ["a"], outputs: ["t"], refAttributes: [("axis", "dim")]),
          (type: "Neg", inputs: ["t"], outputs: ["b"], refAttributes: []),
        ])
      .input("x", ["2", "3"])
      .node("SoftmaxThenNeg", ["x"], ["y"], name: "call", attributes: [("dim", 0)], domain: "local")
      .output("y")
    let model = try load(builder)
    #expect(model.imported.opCounts().map(\.type) == ["Neg", "Softmax"])
    let softmax = try #require(model.imported.nodes.first { $0.opType == "Softmax" }?.op as? Softmax)
    #expect(softmax.axis == 0)
    #expect(model.imported.nodes.map(\.name) == ["call/1/Softmax", "call/1/Neg"])
    #expect(model.canonical.values[model.canonical.outputs[0]].type?.dims == [2, 3])
  }

  @Test func eliminatesDeadNodes() throws {
    let model = try load(
      OnnxBuilder().input("x", ["n"])
        .node("Neg", ["x"], ["unused"])
        .node("Abs", ["x"], ["y"])
        .output("y"))
    #expect(model.canonical.opCounts().map(\.type) == ["Abs"])
    #expect(model.imported.opCounts().count == 2)
  }

  @Test func foldsConstantSubgraphs() throws {
    let model = try load(
      OnnxBuilder().input("x", ["n"])
        .initializer(.init(name: "a", dims: [1], floats: [2]))
        .initializer(.init(name: "b", dims: [1], floats: [3]))
        .node("Mul", ["a", "b"], ["c"])
        .node("Add", ["x", "c"], ["y"])
        .output("y"))
    let graph = model.canonical
    #expect(graph.opCounts().map(\.type) == ["Add"])
    let add = try #require(graph.nodes.first)
    #expect(add.inputs[1].flatMap { graph.values[$0].constant }?.floats() == [6])
  }
}

// MARK: - Real exports

extension CanonicalizeTests {
  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func bertWithStaticShapesHasNoShapeArithmeticLeft() throws {
    let model = try ModelLoader.load(
      Fixtures.model("bert_tiny_legacy"),
      options: ImportOptions(inputShapes: ["input_ids": [1, 128], "attention_mask": [1, 128]]))
    let graph = model.canonical
    for type in ["Shape", "Unsqueeze", "Concat", "ConstantOfShape", "DimExpressions"] {
      #expect(count(graph, type) == 0, "\(type) left after folding")
    }
    let gathersOnShapes = graph.nodes.filter { node in
      node.opType == "Gather" && node.inputs[0].flatMap { graph.values[$0].type?.dtype } == .int64
        && node.inputs[0].flatMap { graph.values[$0].type?.rank } == 1
        && node.inputs[0].flatMap { graph.values[$0].constant } == nil
    }
    #expect(gathersOnShapes.isEmpty)
    let output = try #require(graph.values[graph.outputs[0]].type)
    #expect(output.dims.first == 1)
    #expect(output.dims.dropFirst().first == 128)
  }

  @Test(.enabled(if: Fixtures.sharedAvailable, Comment(rawValue: Fixtures.sharedMissing)))
  func bertWithSymbolicShapesFoldsIntoDimExpressions() throws {
    let model = try ModelLoader.load(Fixtures.model("bert_tiny_legacy"))
    let graph = model.canonical
    #expect(count(graph, "Shape") == 0)
    #expect(count(graph, "Concat") == 0)
    #expect(count(graph, "DimExpressions") > 0)
    let output = try #require(graph.values[graph.outputs[0]].type)
    #expect(output.dims.prefix(2) == [.symbol("batch"), .symbol("seq")])
  }
}

func int64Bytes(_ values: [Int64]) -> [UInt8] { values.withUnsafeBytes { Array($0) } }
