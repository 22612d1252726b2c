import AttncKernels
import AttncTensor

/// `Split(x, split?)` along `axis` into the node's outputs.
///
/// Sizes come from `split` (an attribute in opsets 2–12, an optional int64 input in opset 1 and
/// from 13); else the axis is cut into equal parts, one per output — or, with `num_outputs`
/// (opset 18), into parts of `ceil(d / n)` with a smaller last part. Symbolic axes stay exact:
/// `2*seq` in two parts is `seq` each; `seq` in two uneven parts is `(seq + 1)/2` and
/// `seq - (seq + 1)/2`. Sizes given by an input not known statically become fresh dims.
public struct Split: AttributedOp {
  /// The `axis` attribute (default 0).
  public var axis: Int
  /// The opset 1–12 `split` attribute.
  public var splitAttribute: [Int]?
  /// The opset-18 `num_outputs` attribute.
  public var numOutputs: Int?
  /// True in opset 1 and from 13, where `split` may be the second input.
  public var splitFromInput: Bool
  private let fresh = DataDependentDims("split")

  /// Reads `axis`, `split` (before opset 13) and `num_outputs` (opset 18).
  /// - Throws: "num_outputs 0 is not positive".
  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
    splitFromInput = opset == 1 || opset >= 13
    splitAttribute = opset < 13 ? try attributes.ints("split") : nil
    numOutputs = opset >= 18 ? try attributes.int("num_outputs") : nil
    if let numOutputs, numOutputs <= 0 {
      throw AttncError.invalid("num_outputs \(numOutputs) is not positive")
    }
  }

  /// The size of each part of an axis of size `dim`.
  /// - Throws: "split has 3 entries for 2 outputs"; "split [2, 2] does not add up to the axis
  ///   size 5"; "split [2, -1] has a negative size"; "num_outputs 3 but the node has 2 outputs";
  ///   "axis size 5 is not divisible into 2 equal parts".
  func sizes(_ dim: Dim, split: [Int]?, outputs: Int) throws -> [Dim] {
    if let split {
      guard split.count == outputs else {
        throw AttncError.invalid("split has \(split.count) entries for \(outputs) outputs")
      }
      guard split.allSatisfy({ $0 >= 0 }) else {
        throw AttncError.invalid("split \(split) has a negative size")
      }
      if let d = dim.value, split.reduce(0, +) != d {
        throw AttncError.invalid("split \(split) does not add up to the axis size \(d)")
      }
      return split.map { Dim($0) }
    }
    if let numOutputs {
      guard numOutputs == outputs else {
        throw AttncError.invalid("num_outputs \(numOutputs) but the node has \(outputs) outputs")
      }
      let chunk = (dim + Dim(numOutputs - 1)).floorDivided(by: numOutputs)
      if let d = dim.value, let c = chunk.value {
        return (0..<numOutputs).map { Dim(max(0, min(c, d - $0 * c))) }
      }
      return [Dim](repeating: chunk, count: numOutputs - 1) + [dim - chunk * Dim(numOutputs - 1)]
    }
    guard outputs > 0 else { throw AttncError.invalid("has no outputs") }
    if let d = dim.value, d % outputs != 0 {
      throw AttncError.invalid("axis size \(d) is not divisible into \(outputs) equal parts")
    }
    return [Dim](repeating: dim.floorDivided(by: outputs), count: outputs)
  }

  /// One type per output: the input dims with the axis dim replaced by the part's size.
  /// - Throws: see `sizes(_:split:outputs:)`; "axis 2 is out of range for rank 2"; "split and
  ///   num_outputs are both given".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(splitFromInput ? 1...2 : 1...1)
    let x = try inputs.required(0)
    let a = try x.type.axis(axis)
    var split = splitAttribute
    if splitFromInput, let given = inputs.optional(1) {
      guard numOutputs == nil else {
        throw AttncError.invalid("split and num_outputs are both given")
      }
      let (count, content) = try given.integerVector("split")
      guard let ints = content.flatMap(Squeeze.constants) else {
        guard count == outputCount else {
          throw AttncError.invalid("split has \(count) entries for \(outputCount) outputs")
        }
        return (0..<outputCount).map { k in
          var dims = x.dims
          dims[a] = fresh.dim(k)
          return TensorType(x.dtype, dims)
        }
      }
      split = ints
    }
    return try sizes(x.dims[a], split: split, outputs: outputCount).map { size in
      var dims = x.dims
      dims[a] = size
      return TensorType(x.dtype, dims)
    }
  }

}

extension Split: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    Lowering(SplitCall(axis: axis, sizes: splitAttribute, numOutputs: numOutputs))
  }
}

extension Split: ONNXExpressible {
  /// As read, except across the opsets that moved its sizes: the opset 2–12 `split` attribute
  /// becomes input 1 from 13, and equal parts without sizes state `num_outputs` from 18.
  public func onnxForm(_ node: ONNXFormNode, into b: inout ONNXGraphBuilder) throws {
    var inputs = node.inputs
    if let sizes = splitAttribute, b.opset >= 13 { inputs = [inputs[0], b.ints(sizes, "split")] }
    var extra: [(name: String, value: ONNXAttribute)] = []
    let hasSizes = inputs.count > 1 && inputs[1] != nil
    if b.opset >= 18, !hasSizes, numOutputs == nil { extra.append(("num_outputs", .int(Int64(node.outputs.count)))) }
    b.nodes.append(try node.passedThrough(attributes: extra, dropping: b.opset >= 13 ? ["split"] : [], inputs: inputs))
  }
}
