@testable import AttncKernels
import AttncTensor
import Testing

/// The run-time Cast kernel to narrow floats: same rules as `NarrowFloat`, and its results survive
/// being stored (`Tensor.host`) unchanged.
@Suite struct CastKernelTests {
  static let input = Tensor.float([0.4789254, 1e6, .nan, .infinity, -.infinity, -1e-7], [6])

  @Test func saturatesByDefault() throws {
    let e4m3 = try Elementwise.cast(Self.input, to: .float8e4m3fn)
    #expect(e4m3.floats[0] == 0.46875 && e4m3.floats[1] == 448 && e4m3.floats[2].isNaN)
    #expect(Array(e4m3.floats[3...]) == [448, -448, -0.0])
    let stored = e4m3.host
    #expect(Array(stored.storage.bytes) == [0x2F, 0x7E, 0x7F, 0x7E, 0xFE, 0x80])
    let e5m2 = try Elementwise.cast(Self.input, to: .float8e5m2)
    #expect(Array(e5m2.floats[3...5]) == [57344, -57344, -0.0])
  }

  @Test func withoutSaturateOverflows() throws {
    let e5m2 = try Elementwise.cast(Self.input, to: .float8e5m2, saturate: false)
    #expect(e5m2.floats[1] == .infinity && e5m2.floats[3] == .infinity && e5m2.floats[4] == -.infinity)
    #expect(e5m2.host.doubles()[3] == .infinity)
    let fnuz = try Elementwise.cast(Self.input, to: .float8e4m3fnuz, saturate: false)
    #expect(fnuz.floats[1].isNaN && fnuz.floats[3].isNaN && fnuz.floats[5] == 0)
    #expect(fnuz.floats[5].sign == .plus)
  }

  @Test func float4AndE8M0() throws {
    let e2m1 = try Elementwise.cast(.float([0.25, 0.75, 5, .nan, -.infinity], [5]), to: .float4e2m1)
    #expect(Array(e2m1.floats[0...2]) == [0, 1, 4] && e2m1.floats[3] == 0 && e2m1.floats[4] == -6)
    #expect(e2m1.floats[3].sign == .minus)
    let up = try Elementwise.cast(.float([0.124, 1.1, 1.4], [3]), to: .float8e8m0)
    #expect(up.floats == [0.125, 2, 2])
    let nearest = try Elementwise.cast(.float([0.124, 1.1, 1.4], [3]), to: .float8e8m0, rounding: .nearest)
    #expect(nearest.floats == [0.125, 1, 1])
  }
}

/// Training-mode Dropout draws from MT19937 the way NumPy's legacy generator does.
@Suite struct DropoutKernelTests {
  @Test func mersenneTwisterMatchesTheReferenceStream() {
    var random = MersenneTwister(seed: 0)
    #expect([random.next(), random.next(), random.next()] == [2_357_136_044, 2_546_248_239, 3_071_714_933])
    var uniform = MersenneTwister(seed: 0)
    #expect(uniform.nextDouble() == 0.5488135039273248)
    #expect(uniform.nextDouble() == 0.7151893663724195)
  }

  @Test func inferenceKeepsEverything() throws {
    var random = MersenneTwister(seed: 0)
    let x = Tensor.float([1, 2, 3, 4], [2, 2])
    let (y, mask) = try Elementwise.dropout(x, ratio: 0.5, training: false, maskType: .bool, random: &random)
    #expect(y.floats == x.floats && mask.ints == [1, 1, 1, 1] && mask.dtype == .bool)
    let (same, _) = try Elementwise.dropout(x, ratio: 0, training: true, maskType: .bool, random: &random)
    #expect(same.floats == x.floats)
  }

  @Test func trainingDropsAndScales() throws {
    // Draws for seed 0: 0.549, 0.715, 0.603, 0.545: with ratio 0.6 only the second is kept.
    var random = MersenneTwister(seed: 0)
    let x = Tensor.float([1, 2, 3, 4], [4])
    let (y, mask) = try Elementwise.dropout(x, ratio: 0.6, training: true, maskType: .bool, random: &random)
    #expect(mask.ints == [0, 1, 1, 0])
    let scale: Float = 1 / (1 - 0.6)
    let expected: [Float] = [0, 2 * scale, 3 * scale, 0]
    #expect(y.floats == expected)
  }
}

/// Squeeze and Unsqueeze with axes known only at run time.
@Suite struct SqueezeKernelTests {
  let x = Tensor.float((0..<6).map(Float.init), [1, 3, 1, 2])

  @Test func squeezesListedOrAllUnitAxes() throws {
    #expect(try Movement.squeeze(x, axes: [0, -2]).shape == [3, 2])
    #expect(try Movement.squeeze(x, axes: nil).shape == [3, 2])
    #expect(try Movement.squeeze(x, axes: [2]).shape == [1, 3, 2])
    #expect(throws: AttncError.invalid("cannot squeeze axis 1 of size 3")) { try Movement.squeeze(x, axes: [1]) }
  }

  @Test func unsqueezesAtOutputPositions() throws {
    let y = Tensor.float((0..<6).map(Float.init), [3, 2])
    #expect(try Movement.unsqueeze(y, axes: [0]).shape == [1, 3, 2])
    #expect(try Movement.unsqueeze(y, axes: [-1]).shape == [3, 2, 1])
    #expect(try Movement.unsqueeze(y, axes: [3, 0]).shape == [1, 3, 2, 1])
    #expect(throws: AttncError.invalid("axes [1, -3] repeat an axis")) { try Movement.unsqueeze(y, axes: [1, -3]) }
  }
}
