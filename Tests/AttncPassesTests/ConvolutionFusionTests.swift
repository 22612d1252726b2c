import AttncIR
import AttncPasses
import AttncTensor
import AttncTestSupport
import Testing

/// `fold-batch-normalization` and the `Relu` that `pack-convolution-weights` takes into a
/// convolution, on the upsampling head of a dense-prediction ViT (ConvTranspose → BatchNorm →
/// Relu) and a ResNet-style stem (Conv → BatchNorm → Relu), as torch's exporter writes them: the
/// fused plan's output is checked against the unfused plan's on the same inputs.
@Suite struct ConvolutionFusionTests {
  typealias Sketch = NormFusionTests.Sketch

  static func floats(_ count: Int, seed: UInt64, low: Float = -1, high: Float = 1) -> [Float] {
    SeededValues.floats(count, seed: seed, amplitude: 1).map { low + (high - low) * ($0 + 1) / 2 }
  }

  /// `x → conv (transposed or not, of `group`) → BatchNormalization → Relu?`.
  static func head(transposed: Bool, group: Int = 1, bias: Bool = true, relu: Bool = true, extraReader: Bool = false)
    throws -> Graph
  {
    var s = Sketch()
    let (channels, filters) = (4, 6)
    let x = s.input("x", [1, channels, 5, 7])
    let wShape = transposed ? [channels, filters / group, 4, 4] : [filters, channels / group, 3, 3]
    let w = s.constant("w", floats(wShape.reduce(1, *), seed: 11), wShape)
    var inputs = [x, w]
    if bias { inputs.append(s.constant("b", floats(filters, seed: 12), [filters])) }
    let attributes: [String: AttributeValue] = transposed
      ? ["strides": .ints([2, 2]), "pads": .ints([1, 1, 1, 1]), "group": .int(Int64(group))]
      : ["pads": .ints([1, 1, 1, 1]), "group": .int(Int64(group))]
    let y = try s.node(transposed ? "ConvTranspose" : "Conv", inputs, attributes)
    let statistics = [
      s.constant("scale", floats(filters, seed: 13), [filters]), s.constant("shift", floats(filters, seed: 14), [filters]),
      s.constant("mean", floats(filters, seed: 15), [filters]),
      s.constant("var", floats(filters, seed: 16, low: 0.5, high: 1.5), [filters]),
    ]
    var out = try s.node("BatchNormalization", [y] + statistics, ["epsilon": .float(1e-3)])
    if relu { out = try s.node("Relu", [out]) }
    if extraReader { out = try s.node("Add", [out, y]) }
    return try s.finish(out)
  }

  /// Fuses and packs `graph` as conversion does; checks the plan against the unfused one and
  /// returns the op types left.
  static func packedMatches(_ graph: Graph) throws -> [String] {
    var fused = graph
    try Fusion.run(&fused)
    try fused.verify()
    let expected = try NormFusionTests.run(graph), actual = try NormFusionTests.run(fused)
    #expect(expected.count == actual.count)
    for (e, a) in zip(expected, actual) { #expect(abs(e - a) <= 1e-4 + 1e-4 * abs(e)) }
    return fused.nodes.map(\.opType)
  }

  @Test(arguments: [false, true])
  func batchNormalizationFoldsIntoTheConvolution(transposed: Bool) throws {
    let types = try NormFusionTests.fusedMatches(try Self.head(transposed: transposed, relu: false))
    #expect(types == [transposed ? "ConvTranspose" : "Conv"])
  }

  @Test func foldsWithoutABiasAndInGroups() throws {
    #expect(try NormFusionTests.fusedMatches(try Self.head(transposed: false, group: 2, bias: false, relu: false)) == ["Conv"])
    #expect(
      try NormFusionTests.fusedMatches(try Self.head(transposed: true, group: 2, bias: false, relu: false)) == ["ConvTranspose"])
  }

  /// A convolution whose output is read by something else than the normalization keeps it.
  @Test func aSharedOutputIsNotFolded() throws {
    let types = try NormFusionTests.fusedMatches(try Self.head(transposed: true, relu: false, extraReader: true))
    #expect(types.contains("BatchNormalization"))
  }

  /// After packing, the head is one PackedConvolution per convolution: the normalization folded,
  /// the Relu applied as outputs are stored.
  @Test(arguments: [false, true])
  func theReluJoinsThePackedConvolution(transposed: Bool) throws {
    #expect(try Self.packedMatches(try Self.head(transposed: transposed)) == ["PackedConvolution"])
  }
}
