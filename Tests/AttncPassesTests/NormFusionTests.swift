import AttncCodegen
import AttncIR
import AttncKernels
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Testing

/// `fuse-gelu`, `fuse-normalizations`, `fuse-silu` and the ReLU product epilogue on the subgraphs exporters
/// write: each spelling is built as the exporter writes it, fused, and the fused plan's output is
/// checked against the unfused plan's on the same inputs.
@Suite struct NormFusionTests {
  /// A graph built node by node, as an exporter writes it.
  struct Sketch {
    var graph = Graph()
    var opset: Int

    init(opset: Int = 17) { self.opset = opset }

    mutating func input(_ name: String, _ dims: [Int]) -> ValueID {
      let id = graph.addValue(Value(name: name, type: TensorType(.float, dims.map { Dim($0) })))
      graph.inputs.append(id)
      return id
    }

    mutating func constant(_ name: String, _ values: [Float], _ shape: [Int]) -> ValueID {
      graph.addConstant(HostTensor(floats: values, shape: shape), name: name)
    }

    mutating func ints(_ name: String, _ values: [Int64]) -> ValueID {
      graph.addConstant(HostTensor(int64s: values, shape: [values.count]), name: name)
    }

    @discardableResult
    mutating func node(_ type: String, _ inputs: [ValueID], _ attributes: [String: AttributeValue] = [:]) throws -> ValueID {
      let output = graph.addValue(Value(name: graph.freshName(type.lowercased())))
      let op = try OpRegistry.make(domain: "", type: type, attributes: Attributes(attributes), opset: opset)
      graph.nodes.append(Node(name: "\(type)_\(graph.nodes.count)", opType: type, inputs: inputs, outputs: [output],
                              attributes: Attributes(attributes), opset: opset, op: op))
      return output
    }

    /// `ReduceMean` over the last axis, as the attribute (opset < 18) or the input (18+).
    mutating func mean(_ x: ValueID, axis: Int64 = -1) throws -> ValueID {
      if opset >= 18 { return try node("ReduceMean", [x, ints("axes", [axis])]) }
      return try node("ReduceMean", [x], ["axes": .ints([axis])])
    }

    mutating func finish(_ output: ValueID) throws -> Graph {
      graph.outputs = [output]
      try InferShapes.run(&graph)
      return graph
    }
  }

  static let rows = 6, width = 16

  /// The output of `graph` lowered to a plan and run on seeded inputs.
  static func run(_ graph: Graph) throws -> [Float] {
    let plan = try Lower.plan(graph, sourceSHA256: [UInt8](repeating: 0, count: 32), producer: "test", policy: "exact")
    let inputs = graph.inputs.enumerated().map { index, id in
      let shape = graph.values[id].type?.dims.compactMap(\.value) ?? []
      return HostTensor(floats: SeededValues.floats(shape.reduce(1, *), seed: UInt64(7 + index), amplitude: 3), shape: shape)
    }
    return Tensor(try Interpreter(plan: plan).run(inputs)[0]).floats.owned
  }

  /// Fuses `graph` with the lowering-stage fusions and checks the fused plan against the unfused
  /// one; returns the fused graph's op types.
  static func fusedMatches(_ graph: Graph) throws -> [String] {
    var fused = graph
    try Fusion.fusions.run(&fused)
    try fused.verify()
    let expected = try run(graph), actual = try run(fused)
    #expect(expected.count == actual.count)
    for (e, a) in zip(expected, actual) { #expect(abs(e - a) <= 1e-4 + 1e-4 * abs(e)) }
    return fused.nodes.map(\.opType)
  }

  // MARK: - LayerNorm spellings

  /// `d = x − mean(x); d / √(mean(d²) + ε) · γ + β`, the legacy exporter below opset 17 (the
  /// ViT-S of real-models.sh) and the dynamo exporter's ReduceMean-18 with an axes input.
  static func layerNorm(opset: Int, square: String = "Pow", divide: String = "Div", epsilonFirst: Bool = false,
                        affine: Bool = true, cast: Bool = false) throws -> Graph {
    var s = Sketch(opset: opset)
    let raw = s.input("x", [rows, width])
    let x = cast ? try s.node("Cast", [raw], ["to": .int(1)]) : raw
    let d = try s.node("Sub", [x, try s.mean(x)])
    let squared = square == "Pow" ? try s.node("Pow", [d, s.constant("two", [2], [])]) : try s.node("Mul", [d, d])
    let eps = s.constant("eps", [1e-6], [])
    let variance = try s.mean(squared)
    let shifted = try s.node("Add", epsilonFirst ? [eps, variance] : [variance, eps])
    let root = try s.node("Sqrt", [shifted])
    var y = divide == "Div" ? try s.node("Div", [d, root]) : try s.node("Mul", [try s.node("Reciprocal", [root]), d])
    if cast { y = try s.node("Cast", [y], ["to": .int(1)]) }
    if affine {
      let gamma = s.constant("gamma", SeededValues.floats(width, seed: 3), [1, width])
      let beta = s.constant("beta", SeededValues.floats(width, seed: 4), [width])
      y = try s.node("Add", [beta, try s.node("Mul", [gamma, y])])
    }
    return try s.finish(y)
  }

  // MARK: - RMSNorm spellings

  /// Llama (legacy): `Cast(x) → Pow 2 → ReduceMean → Add ε → Sqrt → Div(1, ·) → Mul x → Cast →
  /// Mul weight`; T5 and Qwen2 (dynamo, opset 18): `Reciprocal` instead of `Div(1, ·)`, no
  /// casts, the axes an input; and the division form `x / √(mean(x²) + ε) · w`.
  static func rmsNorm(opset: Int, casts: Bool, divide: Bool = false, weight: Bool = true) throws -> Graph {
    var s = Sketch(opset: opset)
    let raw = s.input("x", [rows, width])
    let x = casts ? try s.node("Cast", [raw], ["to": .int(1)]) : raw
    let meanSquare = try s.mean(try s.node("Pow", [x, s.constant("two", [2], [])]))
    let root = try s.node("Sqrt", [try s.node("Add", [meanSquare, s.constant("eps", [1e-5], [])])])
    let inverse = casts ? try s.node("Div", [s.constant("one", [1], []), root]) : try s.node("Reciprocal", [root])
    var y = divide ? try s.node("Div", [x, root]) : try s.node("Mul", [x, inverse])
    if casts { y = try s.node("Cast", [y], ["to": .int(1)]) }
    if weight { y = try s.node("Mul", [s.constant("weight", SeededValues.floats(width, seed: 5), [width]), y]) }
    return try s.finish(y)
  }
}

extension NormFusionTests {
  @Test(arguments: [
    (17, "Pow", "Div", false), (18, "Pow", "Div", false), (14, "Mul", "Div", true), (17, "Pow", "Reciprocal", true),
  ])
  func layerNormSpellingsFuse(opset: Int, square: String, divide: String, epsilonFirst: Bool) throws {
    let types = try Self.fusedMatches(try Self.layerNorm(opset: opset, square: square, divide: divide, epsilonFirst: epsilonFirst))
    #expect(types == ["LayerNormalization"])
  }

  @Test func layerNormWithCastsAndNoAffineFuses() throws {
    #expect(try Self.fusedMatches(try Self.layerNorm(opset: 17, affine: false, cast: true)) == ["LayerNormalization"])
  }

  @Test(arguments: [(17, true, false), (18, false, false), (18, false, true)])
  func rmsNormSpellingsFuse(opset: Int, casts: Bool, divide: Bool) throws {
    #expect(try Self.fusedMatches(try Self.rmsNorm(opset: opset, casts: casts, divide: divide)) == ["RMSNormalization"])
  }

  @Test func rmsNormWithoutWeightGetsOnes() throws {
    let graph = try Self.rmsNorm(opset: 18, casts: false, weight: false)
    #expect(try Self.fusedMatches(graph) == ["RMSNormalization"])
  }

  /// A mean over a leading axis is not a norm over trailing axes: nothing fuses, outputs agree.
  @Test func meanOverLeadingAxisDeclines() throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width])
    let meanSquare = try s.mean(try s.node("Pow", [x, s.constant("two", [2], [])]), axis: 0)
    let root = try s.node("Sqrt", [try s.node("Add", [meanSquare, s.constant("eps", [1e-5], [])])])
    let graph = try s.finish(try s.node("Div", [x, root]))
    #expect(try Self.fusedMatches(graph) == ["Pow", "ReduceMean", "Add", "Sqrt", "Div"])
  }

  /// The epsilon must be a constant: a computed one declines.
  @Test func computedEpsilonDeclines() throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width])
    let eps = s.input("eps", [1])
    let meanSquare = try s.mean(try s.node("Mul", [x, x]))
    let root = try s.node("Sqrt", [try s.node("Add", [meanSquare, eps])])
    let graph = try s.finish(try s.node("Div", [x, root]))
    var fused = graph
    try Fusion.fusions.run(&fused)
    #expect(!fused.nodes.contains { $0.opType == "RMSNormalization" })
  }

  // MARK: - SiLU

  @Test(arguments: [false, true])
  func siluFuses(sigmoidFirst: Bool) throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width])
    let gate = try s.node("Sigmoid", [x])
    let graph = try s.finish(try s.node("Mul", sigmoidFirst ? [gate, x] : [x, gate]))
    #expect(try Self.fusedMatches(graph) == ["Swish"])
  }

  @Test func quickGeluFusesWithItsAlpha() throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width])
    let scaled = try s.node("Mul", [s.constant("alpha", [1.702], []), x])
    let graph = try s.finish(try s.node("Mul", [x, try s.node("Sigmoid", [scaled])]))
    #expect(try Self.fusedMatches(graph) == ["Swish"])
  }

  /// `x·sigmoid(y)` with two different values is a gate, not a SiLU.
  @Test func gateOfAnotherValueDeclines() throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width]), y = s.input("y", [Self.rows, Self.width])
    let graph = try s.finish(try s.node("Mul", [x, try s.node("Sigmoid", [y])]))
    #expect(try Self.fusedMatches(graph) == ["Sigmoid", "Mul"])
  }

  // MARK: - Product epilogues

  /// T5's and the ViT-S head's `Relu(x·W + b)` joins the product's epilogue, as GELU does.
  @Test func reluJoinsTheProductEpilogue() throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width])
    let w = s.constant("w", SeededValues.floats(Self.width * 24, seed: 8), [Self.width, 24])
    let b = s.constant("b", SeededValues.floats(24, seed: 9), [24])
    let graph = try s.finish(try s.node("Relu", [try s.node("Add", [try s.node("MatMul", [x, w]), b])]))
    var fused = graph
    try Fusion.run(&fused)
    let packed = try #require(fused.nodes.first?.op as? PackedMatMul)
    #expect(fused.nodes.count == 1 && packed.activation == .relu)
    let expected = try Self.run(graph), actual = try Self.run(fused)
    #expect(expected.contains(0) && expected.contains { $0 > 0 })
    for (e, a) in zip(expected, actual) { #expect(abs(e - a) <= 1e-5 + 1e-5 * abs(e)) }
  }

  /// LayerScale (DINOv2, CaiT): `(x·W + b)·λ + r` becomes one product: λ folds into new
  /// constants `W·diag(λ)` and `b·λ`, and the residual joins as the second addend.
  @Test func layerScaleFoldsIntoTheWeightAndTheResidualJoins() throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width]), r = s.input("r", [Self.rows, 24])
    let w = s.constant("w", SeededValues.floats(Self.width * 24, seed: 10), [Self.width, 24])
    let b = s.constant("b", SeededValues.floats(24, seed: 11), [24])
    let lambda = s.constant("lambda", SeededValues.floats(24, seed: 12), [24])
    let scaled = try s.node("Mul", [try s.node("Add", [b, try s.node("MatMul", [x, w])]), lambda])
    let graph = try s.finish(try s.node("Add", [scaled, r]))
    var fused = graph
    try Fusion.run(&fused)
    let packed = try #require(fused.nodes.first)
    #expect(fused.nodes.count == 1 && packed.op is PackedMatMul && packed.inputs.count == 4)
    let expected = try Self.run(graph), actual = try Self.run(fused)
    for (e, a) in zip(expected, actual) { #expect(abs(e - a) <= 1e-5 + 1e-5 * abs(e)) }
  }

  /// A scale that is not constant per column (here a full activation) stays a `Mul`.
  @Test func activationScaleDoesNotFold() throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width]), g = s.input("g", [Self.rows, 24])
    let w = s.constant("w", SeededValues.floats(Self.width * 24, seed: 10), [Self.width, 24])
    var fused = try s.finish(try s.node("Mul", [try s.node("MatMul", [x, w]), g]))
    try Fusion.run(&fused)
    #expect(fused.nodes.map(\.opType).contains("Mul"))
  }

  // MARK: - GELU

  /// `s = 1 + erf(x/√2)` (or `1 + tanh(0.79788·(x + 0.044715·x³))`), then the three products:
  /// legacy `(x·½)·s`, `(x·s)·½`, and the dynamo exporter's `x·(½·s)`.
  @Test(arguments: [("legacy", false), ("outer-half", false), ("dynamo", false), ("legacy", true), ("dynamo", true)])
  func geluProductOrdersFuse(grouping: String, tanh: Bool) throws {
    var s = Sketch(opset: 17)
    let x = s.input("x", [Self.rows, Self.width])
    let one = s.constant("one", [1], []), half = s.constant("half", [0.5], [])
    let term: ValueID
    if tanh {
      let cube = try s.node("Mul", [s.constant("c", [0.044715], []), try s.node("Pow", [x, s.constant("three", [3], [])])])
      let inner = try s.node("Mul", [try s.node("Add", [x, cube]), s.constant("k", [0.7978845608], [])])
      term = try s.node("Add", [try s.node("Tanh", [inner]), one])
    } else {
      let scaled = grouping == "legacy" ? try s.node("Mul", [x, s.constant("r", [0.70710678], [])])
        : try s.node("Div", [x, s.constant("sqrt2", [1.4142135], [])])
      term = try s.node("Add", [one, try s.node("Erf", [scaled])])
    }
    let y: ValueID
    switch grouping {
    case "legacy": y = try s.node("Mul", [try s.node("Mul", [x, half]), term])
    case "outer-half": y = try s.node("Mul", [try s.node("Mul", [x, term]), half])
    default: y = try s.node("Mul", [x, try s.node("Mul", [half, term])])
    }
    var fused = try s.finish(y)
    _ = try Self.fusedMatches(fused)
    try Fusion.fusions.run(&fused)
    let gelu = try #require(fused.nodes.first?.op as? Unary)
    #expect(fused.nodes.count == 1 && gelu.function == .gelu(tanh: tanh))
  }
}
