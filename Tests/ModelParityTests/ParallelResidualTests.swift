import AttncIR
import AttncKit
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// GPT-NeoX and Phi add the attention's and the MLP's projections in one node,
/// `(a·W₁ + b₁) + (m·W₂ + b₂) + x`: both products' epilogues reach that Add. Each epilogue node
/// must be fused once, or the plan reads a value nothing computes (issue #20: "node 'node_add_9'
/// (Add): input 0 is missing").
@Suite struct ParallelResidualTests {
  /// `y = (x·W₁ + b₁) + (gelu(x)·W₂ + b₂) + r`, the second product after the first.
  func model(in dir: URL) throws -> String {
    try OnnxBuilder()
      .input("x", ["batch", "seq", "4"])
      .input("r", ["batch", "seq", "3"])
      .initializer(.init(name: "w1", dims: [4, 3], floats: (0..<12).map { Float($0) / 7 - 0.8 }))
      .initializer(.init(name: "w2", dims: [4, 3], floats: (0..<12).map { Float(11 - $0) / 5 - 1 }))
      .initializer(.init(name: "b1", dims: [3], floats: [0.5, -0.25, 1]))
      .initializer(.init(name: "b2", dims: [3], floats: [-1, 2, 0.125]))
      .node("MatMul", ["x", "w1"], ["p1"])
      .node("Add", ["p1", "b1"], ["attention"])
      .node("Tanh", ["x"], ["m"])
      .node("MatMul", ["m", "w2"], ["p2"])
      .node("Add", ["p2", "b2"], ["mlp"])
      .node("Add", ["mlp", "attention"], ["both"])
      .node("Add", ["both", "r"], ["y"])
      .output("y")
      .write(to: dir)
  }

  @Test func eachEpilogueNodeIsFusedOnce() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    var graph = try ModelLoader.load(try model(in: dir)).canonical
    try Fusion.fusions.run(&graph)
    try graph.verify()  // threw "'both__fused' before it is defined" when both products took the sum
    #expect(graph.nodes.filter { $0.opType == "FusedMatMul" }.count == 2)
    // The first product takes its bias and the sum (two addends); the residual stays an Add.
    #expect(graph.nodes.filter { $0.opType == "Add" }.count == 1)
  }

  @Test func thePlanComputesTheSum() throws {
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let plan = try Compiler.plan(try model(in: dir)).plan
    let (batch, seq) = (2, 3)
    let x = (0..<(batch * seq * 4)).map { Double($0 % 7) / 3 - 1 }
    let r = (0..<(batch * seq * 3)).map { Double($0 % 5) / 2 - 1 }
    let outputs = try Interpreter(plan: plan).run([
      HostTensor(dtype: .float, shape: [batch, seq, 4], converting: x),
      HostTensor(dtype: .float, shape: [batch, seq, 3], converting: r),
    ])
    let w1 = (0..<12).map { Double(Float($0) / 7 - 0.8) }, w2 = (0..<12).map { Double(Float(11 - $0) / 5 - 1) }
    let b1 = [0.5, -0.25, 1], b2 = [-1, 2, 0.125]
    let y = try #require(outputs.first).floats()
    #expect(y.count == batch * seq * 3)
    for row in 0..<(batch * seq) {
      for c in 0..<3 {
        var expected = b1[c] + b2[c] + r[row * 3 + c]
        for t in 0..<4 {
          let xt = Double(Float(x[row * 4 + t]))
          expected += xt * w1[t * 3 + c] + Foundation.tanh(xt) * w2[t * 3 + c]
        }
        #expect(abs(Double(y[row * 3 + c]) - expected) < 1e-4, "row \(row) column \(c)")
      }
    }
  }
}
