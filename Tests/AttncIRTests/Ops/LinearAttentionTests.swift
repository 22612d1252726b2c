import AttncTensor
import Testing

@testable import AttncIR

@Suite struct LinearAttentionTests: UsesComputeFixtures {
  static func heads(_ q: Int64, _ kv: Int64, rule: String? = nil) -> [String: AttributeValue] {
    var attributes: [String: AttributeValue] = ["q_num_heads": .int(q), "kv_num_heads": .int(kv)]
    if let rule { attributes["update_rule"] = .string(rule) }
    return attributes
  }

  static let q = fact(.float, [batch, seq, 64])
  static let k = fact(.float, [batch, seq, 32])
  static let v = fact(.float, [batch, seq, 32])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "updates a grouped state", type: "LinearAttention", attributes: heads(8, 4),
      opset: 27,
      inputs: [q, k, v, nil, fact(.float, [batch, seq, 32]), fact(.float, [batch, seq, 4])],
      outputs: 2,
      expected: .types([
        TensorType(.float, [batch, seq, 64]), TensorType(.float, [batch, 4, 8, 8]),
      ])),
    ComputeShapeCase(
      name: "takes per-head decay and a shared beta", type: "LinearAttention",
      attributes: heads(8, 4), opset: 27,
      inputs: [
        q, k, v, fact(.float, [batch, 4, 8, 8]), fact(.float, [batch, seq, 4]),
        fact(.float, [batch, seq, 1]),
      ],
      outputs: 2, expected: .dims([[batch, seq, 64], [batch, 4, 8, 8]])),
    ComputeShapeCase(
      name: "needs no gates for the linear rule", type: "LinearAttention",
      attributes: heads(4, 4, rule: "linear"), opset: 27,
      inputs: [
        fact(.float16, [2, 1, 32]), fact(.float16, [2, 1, 32]), fact(.float16, [2, 1, 32]),
      ],
      outputs: 2,
      expected: .types([TensorType(.float16, [2, 1, 32]), TensorType(.float16, [2, 4, 8, 8])])),
    ComputeShapeCase(
      name: "refuses a delta rule without beta", type: "LinearAttention",
      attributes: heads(8, 4, rule: "delta"), opset: 27, inputs: [q, k, v],
      expected: .error("input 'beta' is required by update_rule 'delta'")),
    ComputeShapeCase(
      name: "refuses a decay of the wrong width", type: "LinearAttention",
      attributes: heads(8, 4, rule: "gated"), opset: 27,
      inputs: [q, k, v, nil, fact(.float, [2, 4, 5])],
      expected: .error("input 'decay' of shape [2, 4, 5] must be [B, T, 32] or [B, T, 4]")),
    ComputeShapeCase(
      name: "refuses a state of the wrong size", type: "LinearAttention",
      attributes: heads(8, 4, rule: "linear"), opset: 27,
      inputs: [q, k, v, fact(.float, [batch, 4, 8, 16])],
      expected: .error("axis 3 of 'past_state' and its expected dim differ: 16 and 8")),
    ComputeShapeCase(
      name: "refuses query heads that are not a multiple", type: "LinearAttention",
      attributes: heads(6, 4), opset: 27, inputs: [q, k, v],
      expected: .error("6 query heads are not a multiple of 4 key/value heads")),
    ComputeShapeCase(
      name: "needs the head counts", type: "LinearAttention", attributes: ["q_num_heads": .int(4)],
      opset: 27, inputs: [q, k, v], expected: .error("attribute 'kv_num_heads' is required")),
    ComputeShapeCase(
      name: "refuses an unknown rule", type: "LinearAttention",
      attributes: heads(4, 4, rule: "mamba"), opset: 27, inputs: [q, k, v],
      expected: .error(
        "attribute 'update_rule' is 'mamba', not one of linear, gated, delta, gated_delta")),
    ComputeShapeCase(
      name: "is not an op before opset 27", type: "LinearAttention", attributes: heads(4, 4),
      opset: 26, inputs: [q, k, v], expected: .unsupported),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }
}
