import AttncTensor

/// `BatchNormalization` per channel (axis 1) of `X [N, C, D…]`.
public enum ChannelNormalization {
  /// Inference: `Y = (X - mean) / sqrt(var + epsilon) · scale + B` with the given statistics.
  public static func inference(
    _ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Float
  ) throws -> Tensor {
    try check(x, [scale, bias, mean, variance])
    return normalize(
      x, scale: scale.floats.map(Double.init), bias: bias.floats.map(Double.init),
      mean: mean.floats.map(Double.init), variance: variance.floats.map(Double.init),
      epsilon: Double(epsilon))
  }

  /// Training: normalises with the batch statistics over every axis but 1 (`mean_b`, the
  /// population variance `var_b`) and returns
  /// `[Y, running_mean, running_var, mean_b, var_b]` with
  /// `running = input · momentum + batch · (1 - momentum)`. (Opset 14 outputs are the first
  /// three; opsets 9–13 name the last two saved mean and saved variance.)
  public static func training(
    _ x: Tensor, scale: Tensor, bias: Tensor, mean: Tensor, variance: Tensor, epsilon: Float,
    momentum: Float
  ) throws -> [Tensor] {
    try check(x, [scale, bias, mean, variance])
    let channels = x.shape[1]
    let inner = x.shape[2...].reduce(1, *)
    let batch = x.shape[0]
    let count = Double(batch * inner)
    var batchMean = [Double](repeating: 0, count: channels)
    var batchVariance = [Double](repeating: 0, count: channels)
    for c in 0..<channels {
      var sum = 0.0
      for n in 0..<batch { let base = (n * channels + c) * inner; for e in 0..<inner { sum += Double(x.floats[base + e]) } }
      let mu = count > 0 ? sum / count : 0
      var squares = 0.0
      for n in 0..<batch {
        let base = (n * channels + c) * inner
        for e in 0..<inner { let d = Double(x.floats[base + e]) - mu; squares += d * d }
      }
      batchMean[c] = mu
      batchVariance[c] = count > 0 ? squares / count : 0
    }
    let y = normalize(
      x, scale: scale.floats.map(Double.init), bias: bias.floats.map(Double.init), mean: batchMean,
      variance: batchVariance, epsilon: Double(epsilon))
    let m = Double(momentum)
    func statistic(_ values: [Double], like model: Tensor) -> Tensor {
      .float(values.map { Float($0) }, [channels], dtype: model.dtype)
    }
    let runningMean = (0..<channels).map { Double(mean.floats[$0]) * m + batchMean[$0] * (1 - m) }
    let runningVariance = (0..<channels).map { Double(variance.floats[$0]) * m + batchVariance[$0] * (1 - m) }
    return [
      y, statistic(runningMean, like: mean), statistic(runningVariance, like: variance),
      statistic(batchMean, like: mean), statistic(batchVariance, like: variance),
    ]
  }

  static func check(_ x: Tensor, _ statistics: [Tensor]) throws {
    guard x.rank >= 2, statistics.allSatisfy({ $0.floats.count == x.shape[1] }) else {
      throw AttncError.invalid("BatchNormalization needs X of rank ≥ 2 and [C] statistics, got X \(x.shape)")
    }
  }

  static func normalize(
    _ x: Tensor, scale: [Double], bias: [Double], mean: [Double], variance: [Double], epsilon: Double
  ) -> Tensor {
    let channels = x.shape[1]
    let inner = x.shape[2...].reduce(1, *)
    var out = [Float](repeating: 0, count: x.count)
    for flat in stride(from: 0, to: x.count, by: max(inner, 1)) {
      let c = (flat / max(inner, 1)) % channels
      let factor = scale[c] / (variance[c] + epsilon).squareRoot()
      let shift = bias[c] - mean[c] * factor
      for e in 0..<inner { out[flat + e] = Float(Double(x.floats[flat + e]) * factor + shift) }
    }
    return .float(out, x.shape, dtype: x.dtype)
  }
}
