import AttncIR
import AttncKit
import AttncONNX
import AttncPasses
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `lower-gemm` beyond the plain linear layer (alpha and beta are covered by the node tests
/// test_gemm_alpha, test_gemm_beta and test_gemm_all_attributes).
@Suite struct LowerGemmTests {
  @Test func lowersTransposedAToTransposeThenMatMul() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = try OnnxBuilder().input("a", ["3", "n"])
      .initializer(.init(name: "w", dims: [3, 2], floats: (0..<6).map { Float($0) }))
      .node("Gemm", ["a", "w"], ["y"], attributes: [("transA", 1)])
      .output("y")
      .write(to: dir)
    let graph = try ModelLoader.load(path, options: ImportOptions()).canonical
    #expect(graph.opCounts().map(\.type) == ["MatMul", "Transpose"])
    let matmul = try #require(graph.nodes.first { $0.opType == "MatMul" })
    let transpose = try #require(graph.nodes.first { $0.opType == "Transpose" })
    #expect(matmul.inputs[0] == transpose.outputs[0])
    #expect(graph.values[graph.outputs[0]].type?.dims == [.symbol("n"), 2])
    try graph.verify()
  }
}
