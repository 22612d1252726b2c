import AttncTensor
import Testing

@testable import AttncIR

@Suite struct RotaryEmbeddingTests: UsesComputeFixtures {
  static let x = fact(.float, [batch, 4, seq, 8])
  static let table = fact(.float, [50, 4])
  static let positions = fact(.int64, [batch, seq])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "rotates with position ids", type: "RotaryEmbedding", opset: 23,
      inputs: [x, table, table, positions],
      expected: .types([TensorType(.float, [batch, 4, seq, 8])])),
    ComputeShapeCase(
      name: "rotates with per-token caches", type: "RotaryEmbedding", opset: 23,
      inputs: [x, fact(.float, [batch, seq, 4]), fact(.float, [batch, seq, 4])],
      expected: .dims([[batch, 4, seq, 8]])),
    ComputeShapeCase(
      name: "rotates part of each head", type: "RotaryEmbedding",
      attributes: ["rotary_embedding_dim": .int(4), "interleaved": .int(1)], opset: 23,
      inputs: [x, fact(.float, [50, 2]), fact(.float, [50, 2]), positions],
      expected: .dims([[batch, 4, seq, 8]])),
    ComputeShapeCase(
      name: "unfolds heads of a 3-D input", type: "RotaryEmbedding",
      attributes: ["num_heads": .int(4)], opset: 23,
      inputs: [fact(.float, [2, 3, 32]), table, table, fact(.int64, [2, 3])],
      expected: .dims([[2, 3, 32]])),
    ComputeShapeCase(
      name: "refuses a 3-D input without num_heads", type: "RotaryEmbedding", opset: 23,
      inputs: [fact(.float, [2, 3, 32]), table, table, fact(.int64, [2, 3])],
      expected: .error("input 'X' is 3-D and needs the attribute 'num_heads'")),
    ComputeShapeCase(
      name: "refuses caches of the wrong width", type: "RotaryEmbedding", opset: 23,
      inputs: [x, fact(.float, [50, 3]), fact(.float, [50, 3]), positions],
      expected: .error("last dim of 'cos_cache' and rotary dim / 2 differ: 3 and 4")),
    ComputeShapeCase(
      name: "refuses 2-D caches without position ids", type: "RotaryEmbedding", opset: 23,
      inputs: [x, table, table],
      expected: .error("input 'cos_cache' must have rank 3, got rank 2")),
    ComputeShapeCase(
      name: "refuses a rotary dim beyond the head", type: "RotaryEmbedding",
      attributes: ["rotary_embedding_dim": .int(16)], opset: 23,
      inputs: [x, fact(.float, [50, 8]), fact(.float, [50, 8]), positions],
      expected: .error("rotary dim 16 must be even and at most the head size 8")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }
}
