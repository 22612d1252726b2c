@testable import AttncKernels
import AttncTensor
import Testing

/// Einsum, ConvTranspose and Resize kernels against plain per-element references, on the cases
/// the ONNX node tests leave out (three operands, broadcasting, groups with negative pads).
@Suite struct ContractionKernelTests {
  static func values(_ shape: [Int], _ seed: Float) -> Tensor {
    .float((0..<shape.reduce(1, *)).map { Float(($0 * 7 + Int(seed)) % 11) * 0.25 - 1 + seed * 0.01 }, shape)
  }

  /// Einsum by looping over every assignment of every label.
  static func naiveEinsum(_ inputs: [Tensor], _ terms: [[Int]], _ output: [Int]) -> [Float] {
    var sizes: [Int: Int] = [:]
    for (x, term) in zip(inputs, terms) { for (l, d) in zip(term, x.shape) { sizes[l] = max(sizes[l] ?? 1, d) } }
    let labels = Array(sizes.keys).sorted()
    let total = labels.map { sizes[$0]! }.reduce(1, *)
    let outSizes = output.map { sizes[$0]! }
    var out = [Float](repeating: 0, count: outSizes.reduce(1, *))
    for flat in 0..<total {
      var index: [Int: Int] = [:]
      var rest = flat
      for l in labels.reversed() { index[l] = rest % sizes[l]!; rest /= sizes[l]! }
      var product: Float = 1
      for (x, term) in zip(inputs, terms) {
        var offset = 0
        for (l, d) in zip(term, x.shape) { offset = offset * d + (d == 1 ? 0 : index[l]!) }
        product *= x.floats[offset]
      }
      var target = 0
      for (l, d) in zip(output, outSizes) { target = target * d + index[l]! }
      out[target] += product
    }
    return out
  }

  @Test(arguments: [
    ([[2, 3], [3, 4], [4, 5]], [[0, 1], [1, 2], [2, 3]], [0, 3]),  // chain of matmuls
    ([[4], [4], [4]], [[0], [0], [0]], []),  // triple inner product
    ([[1, 2, 3], [4, 3, 2]], [[9, 0, 1], [9, 1, 2]], [9, 0, 2]),  // batch broadcast
    ([[3, 3, 2]], [[0, 0, 1]], [1]),  // trace per last axis
    ([[2, 3], [2]], [[0, 1], [0]], [1, 0]),  // outer label kept, transposed
    ([[2, 3, 4], [4, 3]], [[0, 1, 2], [2, 5]], [5, 0]),  // sums a private label (1) first
  ])
  func einsumMatchesLoops(shapes: [[Int]], terms: [[Int]], output: [Int]) throws {
    let inputs = shapes.enumerated().map { Self.values($1, Float($0 + 1)) }
    let result = try EinsumContraction.evaluate(inputs, terms: terms, output: output)
    let expected = Self.naiveEinsum(inputs, terms, output)
    #expect(result.floats.count == expected.count)
    for (a, b) in zip(result.floats, expected) { #expect(abs(a - b) <= 1e-4 * max(1, abs(b))) }
  }

  @Test func convTransposeMatchesScatter() throws {
    // X [1, 4, 3, 2], W [4, 3, 2, 3], group 2 → M = 6; stride (2, 1), dilation (1, 2), pads (1, -1).
    let x = Self.values([1, 4, 3, 2], 1), w = Self.values([4, 3, 2, 3], 2), bias = Self.values([6], 3)
    let strides = [2, 1], dilations = [1, 2], pads = [1, -1], out = [5, 7]
    let y = try TransposedConvolution.convTranspose(
      x, w, bias: bias, window: ConvolutionWindow(strides: strides, dilations: dilations, padsBegin: pads, outputSpatial: out, group: 2))
    var expected = [Float](repeating: 0, count: 6 * 35)
    for m in 0..<6 { for o in 0..<35 { expected[m * 35 + o] = bias.floats[m] } }
    for c in 0..<4 {
      let g = c / 2
      for mm in 0..<3 { for i in 0..<3 { for j in 0..<2 { for ki in 0..<2 { for kj in 0..<3 {
        let oi = i * strides[0] - pads[0] + ki * dilations[0], oj = j * strides[1] - pads[1] + kj * dilations[1]
        guard oi >= 0, oi < out[0], oj >= 0, oj < out[1] else { continue }
        expected[(g * 3 + mm) * 35 + oi * 7 + oj] += x.floats[(c * 3 + i) * 2 + j] * w.floats[((c * 3 + mm) * 2 + ki) * 3 + kj]
      } } } } }
    }
    #expect(y.shape == [1, 6, 5, 7])
    for (a, b) in zip(y.floats, expected) { #expect(abs(a - b) <= 1e-5 * max(1, abs(b))) }
  }

  @Test func resizeNearestKeepsIntegers() throws {
    let x = Tensor.int([1, 2, 3, 4], [1, 4], dtype: .int32)
    var options = Resampling.Options()
    options.coordinateTransformation = "asymmetric"
    options.nearestMode = "floor"
    let y = try Resampling.resize(x, roi: nil, scales: [1, 1.5], sizes: nil, options: options)
    #expect(y.dtype == .int32 && y.shape == [1, 6])
    #expect(y.ints == [1, 1, 2, 3, 3, 4])
  }

  @Test(arguments: [0.3, 0.5, 0.8, 1.0, 2.0])
  func antialiasWeightsSumToOne(scale: Double) {
    for ratio in [0.1, 0.5, 1.0] {
      #expect(abs(Resampling.linearAntialias(ratio, scale).reduce(0, +) - 1) < 1e-12)
      #expect(abs(Resampling.cubicAntialias(ratio, scale, -0.5).reduce(0, +) - 1) < 1e-12)
    }
    #expect(Resampling.linearAntialias(0.25, 1) == [0.75, 0.25])
  }
}
