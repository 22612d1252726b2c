import AttncKernels
import AttncTensor
import Foundation

/// Softmax along `axis`: `exp(x - max) / Σ exp(x - max)`.
///
/// Opset 1 and 11 coerce the input to 2-D at `axis` (default 1) and normalise over everything from
/// `axis` on; opset 13 normalises over the single `axis` (default -1). `coercesTo2D` records which.
public struct Softmax: Op, Evaluable {
  public var axis: Int
  public var coercesTo2D: Bool

  public init(axis: Int = -1, coercesTo2D: Bool = false) {
    self.axis = axis
    self.coercesTo2D = coercesTo2D
  }

  public init(attributes: Attributes, opset: Int) throws {
    coercesTo2D = opset < 13
    axis = try attributes.int("axis", default: coercesTo2D ? 1 : -1)
  }

  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(1...1)
    let x = try inputs.required(0)
    guard x.dtype.isFloatingPoint else {
      throw AttncError.invalid("input must be a floating-point tensor, got \(x.dtype)")
    }
    _ = try x.type.axis(axis)
    return [x.type]
  }

  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    guard let x = inputs.first ?? nil else { throw AttncError.invalid("input 0 is required") }
    let a = try Shapes.normalize(axis: axis, rank: x.rank)
    let values = x.doubles()
    var out = values
    // Rows of length `inner` strided by `stride` (opset-13 form) or contiguous (coerced form).
    let outer = x.shape[..<a].reduce(1, *)
    let length = coercesTo2D ? x.shape[a...].reduce(1, *) : x.shape[a]
    let stride = coercesTo2D ? 1 : x.shape[(a + 1)...].reduce(1, *)
    let blocks = coercesTo2D ? 1 : stride
    for o in 0..<outer {
      for b in 0..<blocks {
        let base = o * length * stride + b
        var maximum = -Double.infinity
        for i in 0..<length { maximum = max(maximum, values[base + i * stride]) }
        var sum = 0.0
        for i in 0..<length {
          let e = exp(values[base + i * stride] - maximum)
          out[base + i * stride] = e
          sum += e
        }
        for i in 0..<length { out[base + i * stride] /= sum }
      }
    }
    return [HostTensor(dtype: x.dtype, shape: x.shape, converting: out)]
  }
}

extension Softmax: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(SoftmaxCall(axis: try context.axis(axis), coerce2D: coercesTo2D))
  }
}

extension Softmax: Tokenwise {
  /// Per token unless the softmax runs over the token axis (or flattens it in, opset < 13).
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let rank = context.inputs[reads[0].position]?.rank ?? 0
    let at = axis < 0 ? axis + rank : axis
    let token = reads[0].axis
    return token < at || (!coercesTo2D && token != at) ? .perToken([token]) : .notPerToken("a softmax over the token axis")
  }
}
