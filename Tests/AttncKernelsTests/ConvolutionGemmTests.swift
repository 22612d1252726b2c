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
    let expected = try Convolution.conv(
      .float(round(x), xShape), .float(round(w), wShape), bias: bias, strides: strides, dilations: [1, 1],
      padsBegin: pads, outputSpatial: spatial, group: 1)
    let y = try ConvolutionGemm.conv(
      .float(x, xShape), rows: Self.rows(w, wShape, transposed: false, precision), weightShape: wShape, bias: bias,
      strides: strides, dilations: [1, 1], padsBegin: pads, outputSpatial: spatial, precision: precision)
    #expect(y.shape == expected.shape)
    #expect(Self.worst(y, expected) < (precision == .bfloat16 ? 1e-4 : 1e-5))
  }

  /// ConvTranspose: stride 2, kernel 4, pads 1 (the upsampling head's geometry), a bias.
  @Test(arguments: LinearPrecision.allCases)
  func convTransposeMatchesTheUnpackedOne(precision: LinearPrecision) throws {
    let xShape = [2, 5, 4, 6], wShape = [5, 3, 4, 4]
    let x = Self.random(xShape.reduce(1, *), seed: 4), w = Self.random(wShape.reduce(1, *), seed: 5)
    let bias = Tensor.float(Self.random(3, seed: 6), [3])
    let spatial = [2 * (4 - 1) + 4 - 2, 2 * (6 - 1) + 4 - 2]
    let round = { (v: [Float]) in precision == .bfloat16 ? v.map(PackedGemm.roundToBFloat16) : v }
    let expected = try TransposedConvolution.convTranspose(
      .float(round(x), xShape), .float(round(w), wShape), bias: bias, strides: [2, 2], dilations: [1, 1],
      padsBegin: [1, 1], outputSpatial: spatial, group: 1)
    let y = try ConvolutionGemm.convTranspose(
      .float(x, xShape), rows: Self.rows(w, wShape, transposed: true, precision), weightShape: wShape, bias: bias,
      strides: [2, 2], dilations: [1, 1], padsBegin: [1, 1], outputSpatial: spatial, precision: precision)
    #expect(y.shape == expected.shape)
    #expect(Self.worst(y, expected) < (precision == .bfloat16 ? 1e-4 : 1e-5))
  }

  @Test func refusesRowsOfAnotherWeight() {
    let rows = Self.rows([Float](repeating: 1, count: 24), [2, 3, 2, 2], transposed: false, .float32)
    #expect(throws: AttncError.self) {
      try ConvolutionGemm.conv(
        .float([Float](repeating: 1, count: 16), [1, 1, 4, 4]), rows: rows, weightShape: [2, 3, 2, 2], bias: nil,
        strides: [1, 1], dilations: [1, 1], padsBegin: [0, 0], outputSpatial: [3, 3], precision: .float32)
    }
  }
}
