import AttncTensor
import AttncTestSupport
import Foundation
import Testing

@testable import AttncIR

@Suite struct OpRegistryTests {
  /// Every op the ONNX node-test manifest uses is registered (none falls back to UnsupportedOp).
  @Test(.enabled(if: Fixtures.nodeTestsAvailable, Comment(rawValue: Fixtures.nodeTestsMissing)))
  func registersEveryOpOfTheNodeTestManifest() throws {
    let shared = try #require(Fixtures.shared)
    let data = try Data(contentsOf: shared.appendingPathComponent("onnx-node/manifest.json"))
    let manifest = try #require(try JSONSerialization.jsonObject(with: data) as? [String: [String: Any]])
    var ops = Set<String>()
    for entry in manifest.values { for op in entry["ops"] as? [String] ?? [] { ops.insert(op) } }
    #expect(ops.count > 80)
    let missing = ops.filter { OpRegistry.entry(domain: "", type: $0) == nil }.sorted()
    #expect(missing.isEmpty, "unregistered: \(missing)")
  }

  @Test func unknownTypesBecomeUnsupportedOps() throws {
    let op = try OpRegistry.make(domain: "", type: "NoSuchOp", attributes: Attributes(), opset: 17)
    #expect(op is UnsupportedOp)
  }

  @Test func refusesOpsetsOlderThanTheDefinition() {
    #expect(throws: AttncError.unsupported("Range at opset 10 is older than the oldest supported version, 11")) {
      try OpRegistry.make(domain: "", type: "Range", attributes: Attributes(), opset: 10)
    }
  }
}

// MARK: - Shape rules on symbolic dims

@Suite struct ShapeRuleTests {
  let batch = Dim.symbol("batch")
  let seq = Dim.symbol("seq")

  func fact(_ dtype: DType, _ dims: [Dim], content: [Dim]? = nil) -> ValueFact {
    ValueFact(type: TensorType(dtype, dims), content: content)
  }

  func op(_ type: String, _ attributes: [String: AttributeValue] = [:], opset: Int = 17) throws -> any Op {
    try OpRegistry.make(domain: "", type: type, attributes: Attributes(attributes), opset: opset)
  }

  @Test func reshapeSplitsHeadsSymbolically() throws {
    let reshape = try op("Reshape")
    let x = fact(.float, [batch, seq, 768])
    let shape = fact(.int64, [4], content: [0, 0, 12, -1])
    let out = try reshape.outputTypes([x, shape], outputCount: 1)
    #expect(out[0].dims == [batch, seq, 12, 64])
  }

  @Test func reshapeMergesHeadsBack() throws {
    let out = try op("Reshape").outputTypes(
      [fact(.float, [batch, 12, seq, 64]), fact(.int64, [3], content: [batch, seq, -1])],
      outputCount: 1)
    // 12*64 is left after dividing out batch and seq.
    #expect(out[0].dims == [batch, seq, 768])
  }

  @Test func matMulBroadcastsBatches() throws {
    let out = try op("MatMul").outputTypes(
      [fact(.float, [batch, 12, seq, 64]), fact(.float, [batch, 12, 64, seq])], outputCount: 1)
    #expect(out[0].dims == [batch, 12, seq, seq])
  }

  @Test func matMulRefusesMismatchedInnerDims() {
    #expect(throws: AttncError.invalid("inner dims [2, 3] × [4, 5] differ: 3 and 4")) {
      try op("MatMul").outputTypes([fact(.float, [2, 3]), fact(.float, [4, 5])], outputCount: 1)
    }
  }

  @Test func concatAddsOnTheAxis() throws {
    let out = try op("Concat", ["axis": .int(1)]).outputTypes(
      [fact(.float, [batch, 1, 64]), fact(.float, [batch, seq, 64])], outputCount: 1)
    #expect(out[0].dims == [batch, seq + 1, 64])
  }

  @Test func sliceToTheEndOfASymbolicAxis() throws {
    let out = try op("Slice").outputTypes(
      [fact(.float, [batch, seq, 64]), fact(.int64, [1], content: [1]),
       fact(.int64, [1], content: [Dim(Int(Int64.max))]), fact(.int64, [1], content: [1])],
      outputCount: 1)
    #expect(out[0].dims == [batch, seq - 1, 64])
  }

  @Test func convComputesSpatialDims() throws {
    let conv = try op("Conv", ["strides": .ints([16, 16])])
    let out = try conv.outputTypes([fact(.float, [batch, 3, 224, 224]), fact(.float, [768, 3, 16, 16])], outputCount: 1)
    #expect(out[0].dims == [batch, 768, 14, 14])
  }

  @Test func attentionFoldsHeadsIn3DLayout() throws {
    let attention = try op("Attention", ["q_num_heads": .int(9), "kv_num_heads": .int(3)], opset: 23)
    let out = try attention.outputTypes(
      [fact(.float, [2, seq, 72]), fact(.float, [2, 6, 24]), fact(.float, [2, 6, 24])], outputCount: 1)
    #expect(out[0].dims == [2, seq, 72])
    #expect(out[1].dims == [2, 3, 6, 8])
  }

  @Test func softmaxAxisOutOfRange() {
    #expect(throws: AttncError.invalid("axis 5 is out of range for rank 2")) {
      try op("Softmax", ["axis": .int(5)], opset: 13).outputTypes([fact(.float, [2, 3])], outputCount: 1)
    }
  }

  @Test func gatherPicksSymbolicDims() throws {
    let gather = try op("Gather") as? any ContentPropagating
    let shape = fact(.int64, [3], content: [batch, seq, 768])
    let index = ValueFact(type: TensorType(.int64, []), constant: HostTensor(int64s: [1], shape: []))
    let contents = gather?.outputContents([shape, index], outputTypes: [TensorType(.int64, [])])
    #expect(contents?.first ?? nil == [seq])
  }
}
