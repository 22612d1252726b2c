import AttncIR
import AttncTensor

/// `fold-batch-normalization`: an inference `BatchNormalization` right after a `Conv` or
/// `ConvTranspose` with constant weights (the upsampling heads of dense-prediction ViTs, ResNet-
/// style stems) becomes part of it: per output channel `o`, with `f = scale / √(var + ε)`, the
/// filter's channel-`o` weights are multiplied by `f` and the bias becomes `(b − mean)·f + B`.
/// One product instead of a product and a pass over the output. The convolution's output must
/// have no other reader.
public enum FoldBatchNormalization {
  static let convolution = Capture("convolution")

  public static let pass = Rule.pass("fold-batch-normalization", [fold])

  static let fold = Rule(
    "fold-batch-normalization",
    op("BatchNormalization", op("Conv", capture: convolution) | op("ConvTranspose", capture: convolution))
  ) { match, root, graph in
    guard let normIndex = match.nodes.first, let convIndex = match.producers[convolution] else { return nil }
    let norm = graph.nodes[normIndex], conv = graph.nodes[convIndex]
    guard let op = norm.op as? BatchNormalization, !op.trainingMode, norm.outputs.count == 1,
      let convOutput = conv.outputs.first, graph.consumers()[convOutput]?.count == 1, !graph.outputs.contains(convOutput),
      let x = conv.inputs[0], conv.inputs.count >= 2, let w = conv.inputs[1], let weight = graph.values[w].constant,
      weight.dtype == .float, weight.rank >= 3, let type = graph.values[root].type, type.dtype == .float
    else { return nil }
    let statistics = (1...4).map { norm.inputs[$0].flatMap { graph.values[$0].constant } }
    guard statistics.allSatisfy({ $0 != nil && $0!.dtype.isFloatingPoint }) else { return nil }
    let (scale, shift, mean, variance) = (
      statistics[0]!.floats(), statistics[1]!.floats(), statistics[2]!.floats(), statistics[3]!.floats()
    )
    let transposed = conv.opType == "ConvTranspose"
    let group = (conv.op as? Conv)?.geometry.group ?? (conv.op as? ConvTranspose)?.geometry.group ?? 1
    // Output channels: W [M, C/g, K…] (Conv), W [C, M/g, K…] (ConvTranspose).
    let outputs = transposed ? weight.shape[1] * group : weight.shape[0]
    guard [scale, shift, mean, variance].allSatisfy({ $0.count == outputs }) else { return nil }
    var bias = [Float](repeating: 0, count: outputs)
    if conv.inputs.count > 2, let b = conv.inputs[2] {
      guard let constant = graph.values[b].constant, constant.dtype == .float, constant.count == outputs else { return nil }
      bias = constant.floats()
    }
    let factor = (0..<outputs).map { scale[$0] / (variance[$0] + op.epsilon).squareRoot() }
    var weights = weight.floats()
    let taps = weight.shape[2...].reduce(1, *)
    if transposed {
      let (inputs, perGroup) = (weight.shape[0], weight.shape[1])
      let inputsPerGroup = inputs / group
      for c in 0..<inputs {
        for m in 0..<perGroup {
          let f = factor[(c / inputsPerGroup) * perGroup + m], base = (c * perGroup + m) * taps
          for t in 0..<taps { weights[base + t] *= f }
        }
      }
    } else {
      let span = weights.count / outputs
      for o in 0..<outputs { for t in 0..<span { weights[o * span + t] *= factor[o] } }
    }
    let folded = (0..<outputs).map { (bias[$0] - mean[$0]) * factor[$0] + shift[$0] }
    let name = conv.name + "/batch_normalization"
    let newWeight = graph.addConstant(HostTensor(floats: weights, shape: weight.shape), name: graph.values[w].name + "__bn")
    let newBias = graph.addConstant(HostTensor(floats: folded, shape: [outputs]), name: name + "/bias")
    let output = graph.addValue(Value(name: graph.freshName(name), type: type))
    return [Node(
      name: name, opType: conv.opType, inputs: [x, newWeight, newBias], outputs: [output], attributes: conv.attributes,
      opset: conv.opset, op: conv.op)]
  }
}
