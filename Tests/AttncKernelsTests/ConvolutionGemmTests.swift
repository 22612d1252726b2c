import AttncKernels
import AttncTensor
import Foundation
import Testing

/// `ConvolutionGemm` (the `PackedConvolution` kernel): float32 equals `Convolution` /
/// `TransposedConvolution` on the same weights; bfloat16 equals them on bfloat16-rounded inputs
/// and weights (the same products, summed in float32).
@Suite struct ConvolutionGemmTests {
  static func random(_ count: Int, seed: UInt64) -> [Float] {
    var state = seed
    return (0..<count).map { _ in
      state = state &* 6364136223846793005 &+ 1442695040888963407
      return Float(Int64(bitPattern: state >> 11) % 2001) / 1000 - 1
    }
  }

  static func rows(_ w: [Float], _ shape: [Int], transposed: Bool, _ precision: LinearPrecision) -> Tensor {
    let values = w.withUnsafeBufferPointer {
      ConvolutionGemm.weightRows($0.baseAddress!, weightShape: shape, transposed: transposed, precision: precision)
    }
    return .float(values, ConvolutionGemm.packedShape(weightShape: shape, transposed: transposed, precision: precision))
  }

  static func worst(_ a: Tensor, _ b: Tensor) -> Double {
    zip(a.floats, b.floats).map { abs(Double($0) - Double($1)) / max(1, abs(Double($1))) }.max() ?? 0
  }

  /// Conv: stride 2×1, pads 1×0, an odd depth C·K = 3·3·3 = 27 (a half pair in bfloat16), a bias.
  @Test(arguments: LinearPrecision.allCases)
  func convMatchesTheUnpackedConvolution(precision: LinearPrecision) throws {
    let xShape = [2, 3, 10, 9], wShape = [5, 3, 3, 3]
    let x = Self.random(xShape.reduce(1, *), seed: 1), w = Self.random(wShape.reduce(1, *), seed: 2)
    let bias = Tensor.float(Self.random(5, seed: 3), [5])
    let (strides, pads) = ([2, 1], [1, 0])
    let spatial = [(10 + 2 - 3) / 2 + 1, (9 - 3) / 1 + 1]
    let round = { (v: [Float]) in precision == .bfloat16 ? v.map(PackedGemm.roundToBFloat16) : v }
    let window = ConvolutionWindow(strides: strides, dilations: [1, 1], padsBegin: pads, outputSpatial: spatial)
    let expected = try Convolution.conv(.float(round(x), xShape), .float(round(w), wShape), bias: bias, window: window)
    let y = try ConvolutionGemm.run(
      .float(x, xShape), rows: Self.rows(w, wShape, transposed: false, precision), weightShape: wShape, transposed: false,
      bias: bias, window: window, precision: precision)
    #expect(y.shape == expected.shape)
    #expect(Self.worst(y, expected) < (precision == .bfloat16 ? 1e-4 : 1e-5))
  }

  /// A 1×1 Conv at stride 1 (the head's last layer, channel mixers) reads the input planes in
  /// place: checked against the sum written out, with groups, and a Relu.
  @Test(arguments: LinearPrecision.allCases, [1, 2])
  func pointwiseConvIsTheChannelSum(precision: LinearPrecision, group: Int) throws {
    let (batch, channels, filters, size) = (2, 6, 4, 35)
    let xShape = [batch, channels, 5, 7], wShape = [filters, channels / group, 1, 1]
    let x = Self.random(xShape.reduce(1, *), seed: 7), w = Self.random(wShape.reduce(1, *), seed: 8)
    let bias = Self.random(filters, seed: 9)
    let round = { (v: Float) in precision == .bfloat16 ? PackedGemm.roundToBFloat16(v) : v }
    let window = ConvolutionWindow(strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0], outputSpatial: [5, 7], group: group)
    let y: Tensor
    if group == 1 {
      y = try ConvolutionGemm.run(
        .float(x, xShape), rows: Self.rows(w, wShape, transposed: false, precision), weightShape: wShape, transposed: false,
        bias: .float(bias, [filters]), window: window, precision: precision, relu: true)
    } else {
      y = try Convolution.conv(.float(x.map(round), xShape), .float(w.map(round), wShape), bias: .float(bias, [filters]), window: window)
    }
    let perGroup = channels / group, mPerGroup = filters / group
    for n in 0..<batch {
      for m in 0..<filters {
        for o in 0..<size {
          var sum = Double(bias[m])
          for c in 0..<perGroup {
            let channel = (m / mPerGroup) * perGroup + c
            sum += Double(round(w[m * perGroup + c])) * Double(round(x[(n * channels + channel) * size + o]))
          }
          let expected = group == 1 ? max(sum, 0) : sum
          #expect(abs(Double(y.floats[(n * filters + m) * size + o]) - expected) < 1e-4)
        }
      }
    }
  }

  /// One ConvTranspose geometry: X and W shapes, strides, dilations, begin pads, output dims.
  struct TransposedGeometry: Sendable, CustomStringConvertible {
    var x: [Int], w: [Int], strides: [Int], dilations: [Int], pads: [Int], output: [Int]
    var description: String { "X \(x) W \(w) s \(strides) d \(dilations) p \(pads) → \(output)" }
  }

  static let transposedGeometries = [
    // the upsampling head's geometry (stride 2, kernel 4, pads 1), odd C (bfloat16: the col2im path)
    TransposedGeometry(x: [2, 5, 4, 6], w: [5, 3, 4, 4], strides: [2, 2], dilations: [1, 1], pads: [1, 1], output: [8, 12]),
    // the same with even C (bfloat16: one convolution per output phase)
    TransposedGeometry(x: [1, 6, 4, 5], w: [6, 3, 4, 4], strides: [2, 2], dilations: [1, 1], pads: [1, 1], output: [8, 10]),
    // stride 3 over a kernel of 2: a phase no tap reaches (bias only); an output past the last input
    TransposedGeometry(x: [1, 4, 3, 3], w: [4, 2, 2, 2], strides: [3, 3], dilations: [1, 1], pads: [0, 0], output: [10, 9]),
    // mixed strides, a dilation, a negative pad (output shifted right)
    TransposedGeometry(x: [1, 4, 3, 2], w: [4, 3, 2, 3], strides: [2, 1], dilations: [1, 2], pads: [1, -1], output: [5, 7]),
    // 1-D and 3-D
    TransposedGeometry(x: [2, 2, 7], w: [2, 3, 3], strides: [2], dilations: [1], pads: [1], output: [13]),
    TransposedGeometry(x: [1, 2, 2, 3, 2], w: [2, 2, 2, 3, 2], strides: [2, 1, 2], dilations: [1, 1, 1], pads: [0, 1, 0], output: [4, 3, 4]),
    // a deep product: each phase's 460 positions in blocks of 64 that end mid-row, several per thread
    TransposedGeometry(x: [1, 512, 20, 23], w: [512, 3, 4, 4], strides: [2, 2], dilations: [1, 1], pads: [1, 1], output: [40, 46]),
  ]

  /// ConvTranspose equals the unpacked one (GEMM + col2im) on every geometry, with a bias.
  @Test(arguments: LinearPrecision.allCases, Self.transposedGeometries)
  func convTransposeMatchesTheUnpackedOne(precision: LinearPrecision, g: TransposedGeometry) throws {
    let x = Self.random(g.x.reduce(1, *), seed: 4), w = Self.random(g.w.reduce(1, *), seed: 5)
    let bias = Tensor.float(Self.random(g.w[1], seed: 6), [g.w[1]])
    let round = { (v: [Float]) in precision == .bfloat16 ? v.map(PackedGemm.roundToBFloat16) : v }
    let window = ConvolutionWindow(strides: g.strides, dilations: g.dilations, padsBegin: g.pads, outputSpatial: g.output)
    let expected = try TransposedConvolution.convTranspose(.float(round(x), g.x), .float(round(w), g.w), bias: bias, window: window)
    let y = try ConvolutionGemm.run(
      .float(x, g.x), rows: Self.rows(w, g.w, transposed: true, precision), weightShape: g.w, transposed: true, bias: bias,
      window: window, precision: precision)
    #expect(y.shape == expected.shape)
    #expect(Self.worst(y, expected) < (precision == .bfloat16 ? 1e-4 : 1e-5))
  }

  @Test func refusesRowsOfAnotherWeight() {
    let rows = Self.rows([Float](repeating: 1, count: 24), [2, 3, 2, 2], transposed: false, .float32)
    #expect(throws: AttncError.self) {
      try ConvolutionGemm.run(
        .float([Float](repeating: 1, count: 16), [1, 1, 4, 4]), rows: rows, weightShape: [2, 3, 2, 2], transposed: false,
        bias: nil, window: ConvolutionWindow(strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0], outputSpatial: [3, 3]),
        precision: .float32)
    }
  }
}
