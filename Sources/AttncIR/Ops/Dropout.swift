import AttncTensor

/// `Dropout(data, ratio?, training_mode?) → (output, mask?)`: at inference (training_mode absent
/// or false) the output is the data and the mask all true.
public struct Dropout: Op, Evaluable {
  public init(attributes: Attributes, opset: Int) throws {}

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...3)
    let x = try inputs.required(0)
    return [x.type, TensorType(.bool, x.dims)]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let x = try required(inputs, 0)
    if inputs.count > 2, let training = inputs[2], training.scalarInt != 0 {
      throw AttncError.unsupported("dropout in training mode is random")
    }
    return [x, HostTensor(bools: [Bool](repeating: true, count: x.count), shape: x.shape)]
  }
}
