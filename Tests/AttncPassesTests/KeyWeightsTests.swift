import AttncCodegen
import AttncIR
import AttncKernels
import AttncPasses
import AttncRuntime
import AttncTensor
import AttncTestSupport
import Testing

/// A `FusedAttention` with per-key weights (`key_weights`) end to end: variants put on it by
/// `ApplyAttentionVariant` (or refused with the reason), lowered to a plan, run by the
/// interpreter.
@Suite struct KeyWeightsTests {
  /// `Q [2, 4, 5, 8]`, `K [2, 2, 7, 8]`, `V [2, 2, 7, 6]`, weights `[2, 7]` → `Y`.
  static func graph() throws -> Graph {
    var graph = Graph()
    let names = ["q", "k", "v", "weights"]
    let shapes: [[Int]] = [[2, 4, 5, 8], [2, 2, 7, 8], [2, 2, 7, 6], [2, 7]]
    let inputs = zip(names, shapes).map { name, shape in
      graph.addValue(Value(name: name, type: TensorType(.float, shape.map { Dim($0) })))
    }
    graph.inputs = inputs
    let y = graph.addValue(Value(name: "y"))
    let spec = AttentionSpec(qHeads: 4, kvHeads: 2, headDim: 8, valueDim: 6, scale: 0.35, mask: .keyWeights)
    graph.nodes.append(
      Node(name: "attention", domain: FusedAttention.domain, opType: FusedAttention.type, inputs: inputs, outputs: [y], opset: 1,
           op: FusedAttention(spec: spec)))
    graph.outputs = [y]
    try InferShapes.run(&graph)
    return graph
  }

  static let q = SeededValues.floats(2 * 4 * 5 * 8, seed: 1), k = SeededValues.floats(2 * 2 * 7 * 8, seed: 2), v = SeededValues.floats(2 * 2 * 7 * 6, seed: 3)
  static let weights: [Float] = [1, 0, 2.5, 0.5, 1, 3, 1, 2, 0, 0, 0, 0, 0, 0]

  /// The plan's output for `graph`.
  static func planOutput(_ graph: Graph) throws -> (output: [Float], call: FusedAttentionCall) {
    let plan = try Lower.plan(graph, sourceSHA256: [UInt8](repeating: 0, count: 32), producer: "test", policy: "exact")
    let call = try #require(plan.instructions.lazy.compactMap { $0.call as? FusedAttentionCall }.first)
    let inputs = [
      HostTensor(floats: q, shape: [2, 4, 5, 8]), HostTensor(floats: k, shape: [2, 2, 7, 8]),
      HostTensor(floats: v, shape: [2, 2, 7, 6]), HostTensor(floats: weights, shape: [2, 7]),
    ]
    return (Tensor(try Interpreter(plan: plan).run(inputs)[0]).floats.owned, call)
  }
}

extension KeyWeightsTests {
  @Test func planRunsTheWeightedKernel() throws {
    let (output, call) = try Self.planOutput(try Self.graph())
    #expect(call.mask == .keyWeights)
    #expect(call.parameters["mask"] == .string("key_weights"))
    #expect(call.parameters["mask_fill"] == nil)
    let expected = try TiledAttention.run(
      q: .float(Self.q, [2, 4, 5, 8]), k: .float(Self.k, [2, 2, 7, 8]), v: .float(Self.v, [2, 2, 7, 6]),
      mask: .keyWeights(.float(Self.weights, [2, 7])), options: .init(scale: 0.35))
    #expect(output == expected.floats)
    // Batch 1 weighs nothing but its first key: every query of it reads that key's value.
    #expect(abs(output[4 * 5 * 6] - Self.v[2 * 7 * 6]) < 1e-6)
  }

  @Test func variantsThatCannotHonourWeightsLeaveTheLayerExact() throws {
    for (text, reason) in [
      ("flurka-rf", "flurka-rf cannot honour per-key weights"),
      ("linformer:random=1", "linformer cannot honour per-key weights with these parameters"),
    ] {
      var graph = try Self.graph()
      let outcomes = try ApplyAttentionVariant.apply(text, to: &graph)
      #expect(outcomes.map(\.refusal) == [reason as String?])
      #expect((graph.nodes[0].op as? FusedAttention)?.spec.variant == .softmax)
    }
  }

  @Test func aVariantThatHonoursWeightsRunsThem() throws {
    var graph = try Self.graph()
    let outcomes = try ApplyAttentionVariant.apply("nystrom:m=7,iterations=30", to: &graph)
    #expect(outcomes.map(\.refusal) == [nil])
    let (output, call) = try Self.planOutput(graph)
    #expect(call.variant == "nystrom")
    // Seven landmarks for seven keys and five queries: Nyström is then exact weighted attention
    // up to the pseudo-inverse iteration.
    let exact = try Self.planOutput(try Self.graph()).output
    let worst = Reference.maxDifference(output, exact)
    #expect(worst < 1e-3, "max abs error \(worst)")
  }
}
