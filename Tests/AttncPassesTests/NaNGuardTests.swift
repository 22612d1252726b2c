import AttncIR
import AttncKit
import AttncPasses
import AttncTensor
import AttncTestSupport
import Foundation
import Testing

/// `match-attention` reads through the NaN guard both torch exporters put after the Softmax of
/// `scaled_dot_product_attention`, in each of its spellings, and only through a real guard.
@Suite struct NaNGuardTests {
  /// `MatMul(q·c, kᵀ·c) → Softmax → <guard> → MatMul(·, v)` with `guard` writing `g` from `p`.
  func model(_ guardNodes: [(String, [String], [String], [(String, Int64)])], alsoOutput: [String] = []) throws -> LoadedModel {
    var builder = OnnxBuilder().input("q", ["b", "2", "s", "4"]).input("kt", ["b", "2", "4", "s"]).input("v", ["b", "2", "s", "3"])
      .initializer(OnnxBuilder.Tensor(name: "c", dims: [], floats: [0.5]))
      .initializer(OnnxBuilder.Tensor(name: "zero", dims: [], floats: [0]))
      .initializer(OnnxBuilder.Tensor(name: "one", dims: [], floats: [1]))
      .node("Mul", ["q", "c"], ["qs"])
      .node("Mul", ["kt", "c"], ["kts"])
      .node("MatMul", ["qs", "kts"], ["s"])
      .node("Softmax", ["s"], ["p"], attributes: [("axis", -1)])
    for (type, inputs, outputs, attributes) in guardNodes {
      builder = builder.node(type, inputs, outputs, attributes: attributes)
    }
    builder = builder.node("MatMul", ["g", "v"], ["y"]).output("y")
    for name in alsoOutput { builder = builder.output(name) }
    let dir = try Fixtures.temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    return try ModelLoader.load(try builder.write(to: dir))
  }

  static let boolType: Int64 = 9

  static let guards: [String: [(String, [String], [String], [(String, Int64)])]] = [
    "where-isnan": [("IsNaN", ["p"], ["nan"], []), ("Where", ["nan", "zero", "p"], ["g"], [])],
    "where-not-isnan": [
      ("IsNaN", ["p"], ["nan"], []), ("Not", ["nan"], ["ok"], []), ("Where", ["ok", "p", "zero"], ["g"], []),
    ],
    "where-cast-isnan": [
      ("IsNaN", ["p"], ["nan"], []), ("Cast", ["nan"], ["nanb"], [("to", boolType)]), ("Where", ["nanb", "zero", "p"], ["g"], []),
    ],
    "where-cast-not-isnan": [
      ("IsNaN", ["p"], ["nan"], []), ("Not", ["nan"], ["ok"], []), ("Cast", ["ok"], ["okb"], [("to", boolType)]),
      ("Where", ["okb", "p", "zero"], ["g"], []),
    ],
  ]

  @Test(arguments: guards.keys.sorted())
  func everyGuardSpellingIsMatched(name: String) throws {
    let loaded = try model(Self.guards[name]!)
    let report = MatchAttention.analyze(loaded.canonical)
    #expect(report.declined.isEmpty, "\(name): \(report.declined.map(\.reason))")
    let spec = try #require(report.matches.first?.spec)
    #expect(spec.scale == 0.25 && spec.mask == .none)
    #expect(spec.zeroNaNRows, "\(name): the guard's zeros for NaN rows are part of the spec")
    var graph = loaded.canonical
    try AttentionMatching.pipeline.run(&graph)
    try graph.verify()
    // The guard went with the Softmax: nothing but the attention (and K's transpose) is left.
    #expect(graph.nodes.map(\.opType).sorted() == ["FusedAttention", "Transpose"], "\(name): \(graph.nodes.map(\.opType))")
  }

  @Test func aGuardThatDoesNotGiveZeroIsDeclined() throws {
    let loaded = try model([("IsNaN", ["p"], ["nan"], []), ("Where", ["nan", "one", "p"], ["g"], [])])
    let report = MatchAttention.analyze(loaded.canonical)
    #expect(report.matches.isEmpty)
    #expect(report.declined.first?.reason.contains("NaN guard") == true, "\(report.declined.map(\.reason))")
  }

  @Test func aGuardWithItsBranchesSwappedIsDeclined() throws {
    // Where(IsNaN(p), p, 0) keeps the NaNs and zeroes everything else: not SDPA's guard.
    let loaded = try model([("IsNaN", ["p"], ["nan"], []), ("Where", ["nan", "p", "zero"], ["g"], [])])
    #expect(MatchAttention.analyze(loaded.canonical).matches.isEmpty)
    let negated = try model([
      ("IsNaN", ["p"], ["nan"], []), ("Not", ["nan"], ["ok"], []), ("Where", ["ok", "zero", "p"], ["g"], []),
    ])
    #expect(MatchAttention.analyze(negated.canonical).matches.isEmpty)
  }

  @Test func probabilitiesReadBesidesTheGuardAreDeclined() throws {
    let loaded = try model([
      ("IsNaN", ["p"], ["nan"], []), ("Where", ["nan", "zero", "p"], ["g"], []),
    ], alsoOutput: ["p"])
    #expect(MatchAttention.analyze(loaded.canonical).matches.isEmpty)
  }

  @Test func withoutAGuardNaNRowsStayNaN() throws {
    let loaded = try model([("Identity", ["p"], ["g"], [])])
    let spec = try #require(MatchAttention.analyze(loaded.canonical).matches.first?.spec)
    #expect(!spec.zeroNaNRows)
  }
}
