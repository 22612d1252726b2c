import AttncTensor
import Testing

@testable import AttncIR

@Suite struct AttentionTests: UsesComputeFixtures {
  static let past = Dim.symbol("past")
  static let heads: [String: AttributeValue] = ["q_num_heads": .int(9), "kv_num_heads": .int(3)]
  static let q4 = fact(.float, [batch, 9, seq, 8])
  static let k4 = fact(.float, [batch, 3, seq, 8])
  static let v4 = fact(.float, [batch, 3, seq, 10])

  static let shapeCases: [ComputeShapeCase] = [
    ComputeShapeCase(
      name: "attends in the 4-D layout with grouped heads", type: "Attention", opset: 23,
      inputs: [q4, k4, v4], outputs: 4,
      expected: .dims([
        [batch, 9, seq, 10], [batch, 3, seq, 8], [batch, 3, seq, 10], [batch, 9, seq, seq],
      ])),
    ComputeShapeCase(
      name: "unfolds heads in the 3-D layout", type: "Attention", attributes: heads, opset: 23,
      inputs: [fact(.float, [2, seq, 72]), fact(.float, [2, 6, 24]), fact(.float, [2, 6, 30])],
      outputs: 4, expected: .dims([[2, seq, 90], [2, 3, 6, 8], [2, 3, 6, 10], [2, 9, seq, 6]])),
    ComputeShapeCase(
      name: "appends the past to the cache", type: "Attention", opset: 23,
      inputs: [
        q4, k4, v4, nil, fact(.float, [batch, 3, past, 8]), fact(.float, [batch, 3, past, 10]),
      ],
      outputs: 4,
      expected: .dims([
        [batch, 9, seq, 10], [batch, 3, past + seq, 8], [batch, 3, past + seq, 10],
        [batch, 9, seq, past + seq],
      ])),
    ComputeShapeCase(
      name: "keeps bfloat16", type: "Attention", opset: 23,
      inputs: [
        fact(.bfloat16, [2, 3, 4, 8]), fact(.bfloat16, [2, 3, 6, 8]),
        fact(.bfloat16, [2, 3, 6, 8]),
      ],
      expected: .types([TensorType(.bfloat16, [2, 3, 4, 8])])),
    ComputeShapeCase(
      name: "broadcasts a 2-D bool mask", type: "Attention", opset: 23,
      inputs: [q4, k4, v4, fact(.bool, [seq, seq])], expected: .dims([[batch, 9, seq, 10]])),
    ComputeShapeCase(
      name: "takes a short mask with a padded cache from opset 24", type: "Attention", opset: 24,
      inputs: [
        fact(.float, [2, 3, 4, 8]), fact(.float, [2, 3, 6, 8]), fact(.float, [2, 3, 6, 8]),
        fact(.float, [2, 3, 4, 4]), nil, nil, fact(.int64, [2]),
      ],
      expected: .dims([[2, 3, 4, 8]])),
    ComputeShapeCase(
      name: "refuses a short mask at opset 23", type: "Attention", opset: 23,
      inputs: [
        fact(.float, [2, 3, 4, 8]), fact(.float, [2, 3, 6, 8]), fact(.float, [2, 3, 6, 8]),
        fact(.float, [4, 4]),
      ],
      expected: .error(
        "input 'attn_mask' of shape [4, 4] does not broadcast to the scores [2, 3, 4, 6]")),
    ComputeShapeCase(
      name: "refuses a mask that does not broadcast", type: "Attention", opset: 23,
      inputs: [
        fact(.float, [2, 3, 4, 8]), fact(.float, [2, 3, 6, 8]), fact(.float, [2, 3, 6, 8]),
        fact(.float, [5, 6]),
      ],
      expected: .error(
        "input 'attn_mask' of shape [5, 6] does not broadcast to the scores [2, 3, 4, 6]")),
    ComputeShapeCase(
      name: "refuses query heads that are not a multiple", type: "Attention", opset: 23,
      inputs: [
        fact(.float, [2, 4, 4, 8]), fact(.float, [2, 3, 6, 8]), fact(.float, [2, 3, 6, 8]),
      ],
      expected: .error("4 query heads are not a multiple of 3 key/value heads")),
    ComputeShapeCase(
      name: "refuses different head sizes of Q and K", type: "Attention", opset: 23,
      inputs: [
        fact(.float, [2, 3, 4, 8]), fact(.float, [2, 3, 6, 4]), fact(.float, [2, 3, 6, 8]),
      ],
      expected: .error("head sizes of Q and K differ: 8 and 4")),
    ComputeShapeCase(
      name: "refuses a 3-D Q without q_num_heads", type: "Attention", opset: 23,
      inputs: [fact(.float, [2, 4, 24]), k4, v4],
      expected: .error("input 'Q' is 3-D and needs the attribute 'q_num_heads'")),
    ComputeShapeCase(
      name: "refuses a hidden size not divisible by the heads", type: "Attention",
      attributes: ["q_num_heads": .int(5), "kv_num_heads": .int(5)], opset: 23,
      inputs: [fact(.float, [2, 4, 24]), fact(.float, [2, 6, 24]), fact(.float, [2, 6, 24])],
      expected: .error("Q's hidden size 24 is not divisible by 5")),
    ComputeShapeCase(
      name: "refuses past_key without past_value", type: "Attention", opset: 23,
      inputs: [q4, k4, v4, nil, fact(.float, [batch, 3, past, 8])],
      expected: .error("inputs 'past_key' and 'past_value' must be given together")),
    ComputeShapeCase(
      name: "refuses nonpad_kv_seqlen at opset 23", type: "Attention", opset: 23,
      inputs: [q4, k4, v4, nil, nil, nil, fact(.int64, [batch])],
      expected: .error("expects 3 to 6 inputs, got 7")),
    ComputeShapeCase(
      name: "refuses an unknown qk output mode", type: "Attention",
      attributes: ["qk_matmul_output_mode": .int(4)], opset: 23, inputs: [q4, k4, v4],
      expected: .error("attribute 'qk_matmul_output_mode' must be 0, 1, 2 or 3, got 4")),
  ]

  @Test(arguments: shapeCases) func shapeRule(_ c: ComputeShapeCase) throws { try c.check() }

  @Test func readsTheWindowAttributesOfOpset25() throws {
    let attributes = Attributes(["left_window_size": .int(2), "softmax_precision": .int(11)])
    let op = try Attention(attributes: attributes, opset: 25)
    #expect(op.leftWindow == 2)
    #expect(op.rightWindow == -1)
    #expect(op.softmaxPrecision == .double)
  }
}
