import AttncTensor

extension LinearAlgebra {
  /// `InstanceNormalization`: for `x [N, C, D…]`, each row `(n, c)` of `D = ΠD…` elements becomes
  /// `(x − μ) / √(σ² + epsilon) · scale[c] + bias[c]`, with the row's mean `μ` and biased variance
  /// `σ²` (summed in Double, two passes). `scale` and `bias` hold `C` elements.
  /// - Throws: "InstanceNormalization needs input of rank ≥ 3 and scale, B of its 4 channels".
  public static func instanceNorm(
    _ x: Tensor, scale: Tensor, bias: Tensor, epsilon: Float, output: FloatOutput = FloatBuffer.init(uninitializedCount:)
  ) throws -> Tensor {
    guard x.rank >= 3, scale.count == x.shape[1], bias.count == x.shape[1] else {
      throw AttncError.invalid(
        "InstanceNormalization needs input of rank ≥ 3 and scale, B of its \(x.rank >= 2 ? x.shape[1] : 0) channels")
    }
    let channels = x.shape[1]
    let inner = x.shape[2...].reduce(1, *)
    let rows = x.shape[0] * channels
    var out = output(x.count)
    x.floats.withUnsafeBufferPointer { source in
      out.withUnsafeMutableBufferPointer { target in
        guard let xs = source.baseAddress, let ys = target.baseAddress, inner > 0 else { return }
        Parallel.chunks(rows, minimumPerChunk: max(1, Parallel.elementsPerChunk / inner)) { range in
          for row in range {
            let (input, result) = (xs + row * inner, ys + row * inner)
            var sum = 0.0
            for j in 0..<inner { sum += Double(input[j]) }
            let mean = sum / Double(inner)
            var squares = 0.0
            for j in 0..<inner {
              let d = Double(input[j]) - mean
              squares += d * d
            }
            let inverse = 1 / (squares / Double(inner) + Double(epsilon)).squareRoot()
            let c = row % channels
            let (gain, shift) = (inverse * Double(scale.floats[c]), Double(bias.floats[c]))
            for j in 0..<inner { result[j] = Float((Double(input[j]) - mean) * gain + shift) }
          }
        }
      }
    }
    return Tensor.float(out, x.shape, dtype: x.dtype)
  }
}
