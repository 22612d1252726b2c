import AttncKernels
import AttncTensor

/// `Reshape(data, shape)`: the same elements under new dims.
///
/// In `shape`, `0` copies the input's dim at that position (unless `allowzero`, opset 14, makes it
/// a literal 0) and one `-1` takes what is left, `elements(data) / product(other dims)`, kept
/// symbolic: `[batch, seq, 768]` with shape `[batch, seq, 12, -1]` is `[batch, seq, 12, 64]`.
/// Opsets 1–4 read `shape` from an attribute. A `shape` whose elements are unknown gives fresh
/// dims of the known output rank.
public struct Reshape: AttributedOp, ContentPropagating {
  /// The `allowzero` attribute (opset 14): a 0 in `shape` is a literal 0, not "copy".
  public var allowZero: Bool
  /// The opset 1–4 `shape` attribute.
  public var shapeAttribute: [Int]?
  private let fresh = DataDependentDims("reshape")

  /// Reads `allowzero` (default 0), and `shape` before opset 5.
  /// - Throws: "attribute 'shape' is required" at opsets 1–4.
  public init(attributes: Attributes, opset: Int) throws {
    allowZero = try attributes.int("allowzero", default: 0) != 0
    if opset < 5 {
      guard let shape = try attributes.ints("shape") else {
        throw AttncError.invalid("attribute 'shape' is required")
      }
      shapeAttribute = shape
    }
  }

  /// The requested entries (nil when unknown) and their count.
  func requested(_ inputs: [ValueFact?]) throws -> (entries: [Dim]?, rank: Int) {
    if let shapeAttribute { return (shapeAttribute.map { Dim($0) }, shapeAttribute.count) }
    let (length, content) = try inputs.required(1).integerVector("shape")
    return (content, length)
  }

  /// Output dims from the input dims and the requested entries.
  /// - Throws: "shape has more than one -1"; "shape entry 2 is -3"; "shape entry 3 is 0 but the
  ///   input has rank 2"; "shape [0, -1] has both a 0 and a -1 with allowzero";
  ///   "cannot reshape [2, 3] (6 elements) into [4, -1]".
  func outputDims(_ input: [Dim], entries: [Dim]) throws -> [Dim] {
    var dims: [Dim] = []
    var inferred: Int?
    for (i, entry) in entries.enumerated() {
      if entry == 0 && !allowZero {
        guard i < input.count else {
          throw AttncError.invalid("shape entry \(i) is 0 but the input has rank \(input.count)")
        }
        dims.append(input[i])
      } else if entry == -1 {
        guard inferred == nil else { throw AttncError.invalid("shape has more than one -1") }
        inferred = i
        dims.append(1)
      } else {
        if let v = entry.value, v < 0 { throw AttncError.invalid("shape entry \(i) is \(v)") }
        dims.append(entry)
      }
    }
    let total = input.reduce(Dim(1), *)
    let known = dims.reduce(Dim(1), *)
    guard let index = inferred else {
      if let t = total.value, let o = known.value, t != o {
        throw AttncError.invalid(
          "cannot reshape \(input.shapeDescription) (\(t) elements) into "
            + "\(dims.shapeDescription) (\(o) elements)")
      }
      return dims
    }
    if allowZero && entries.contains(0) {
      throw AttncError.invalid(
        "shape \(entries.shapeDescription) has both a 0 and a -1 with allowzero")
    }
    if known == 0 {
      // Only an empty input fits; the -1 is then ambiguous, ONNX takes 0.
      dims[index] = 0
    } else if let t = total.value, let k = known.value {
      guard t % k == 0 else {
        throw AttncError.invalid(
          "cannot reshape \(input.shapeDescription) (\(t) elements) into "
            + entries.shapeDescription
        )
      }
      dims[index] = Dim(t / k)
    } else if let quotient = total.divided(by: known) {
      dims[index] = quotient
    } else {
      dims[index] = fresh.dim(index)
    }
    return dims
  }

  /// The requested dims, with 0 and -1 resolved; fresh dims when the entries are unknown.
  /// - Throws: see `outputDims(_:entries:)`; "input 'shape' must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(shapeAttribute == nil ? 2...2 : 1...1)
    let data = try inputs.required(0)
    let (entries, rank) = try requested(inputs)
    guard let entries else {
      return [TensorType(data.dtype, (0..<rank).map { fresh.dim($0) })]
    }
    return [TensorType(data.dtype, try outputDims(data.dims, entries: entries))]
  }

  /// Reshaping a vector or scalar to a vector or scalar keeps its elements.
  public func outputContents(_ inputs: [ValueFact?], outputTypes: [TensorType]) -> [[Dim]?] {
    guard let x = inputs.first ?? nil, x.rank <= 1, let type = outputTypes.first, type.rank <= 1
    else { return [nil] }
    return [x.content]
  }
}

extension Reshape: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? {
    guard let type = context.outputs.first ?? nil else { return nil }
    if let view = Reshape.staticView(type) { return view }
    return shapeAttribute == nil ? Lowering(ReshapeDynamicCall(allowZero: allowZero)) : nil
  }

  /// A view under the output's dims when none of them is data-dependent (`Reshape`,
  /// `Flatten`, `Squeeze` and `Unsqueeze` all lower so when they can).
  static func staticView(_ type: TensorType) -> Lowering? {
    guard !type.dims.contains(where: \.isDataDependent) else { return nil }
    return Lowering(ReshapeCall(dims: type.dims), usedInputs: 1)
  }
}

extension Reshape: Tokenwise {
  /// A reshape that keeps every axis up to the token axis (so the merged length can take the
  /// token axis's place in its target).
  public func tokenRule(_ reads: [TokenRead], _ context: NodeContext) -> TokenRule {
    let axis = reads[0].axis
    guard reads.count == 1, reads[0].position == 0, let input = context.inputs[0], context.inputs.count > 1,
      let target = context.inputs[1]?.content, target.count > axis
    else { return .notPerToken("a reshape of the token axis") }
    for i in 0...axis where !(target[i] == input.dims[i] || (target[i].value == 0 && i < input.rank)) {
      return .notPerToken("a reshape of the token axis")
    }
    return .reshape(axis: axis, target: target)
  }
}

extension Reshape: Bypassable {
  public func isNoOp(_ context: NodeContext) -> Bool { outputTypeIsInputType(context) }
}
