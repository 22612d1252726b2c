import AttncKernels
import AttncTensor

/// `Unsqueeze(x, axes)`: inserts size-1 axes.
///
/// The axes are positions of the output (negative
/// positions count from the end of the output). `axes` is an attribute before opset 13 and an
/// int64 input from 13.
///
/// When the `axes` input is not known statically the output has `rank + count(axes)` fresh dims.
/// Its content (a scalar unsqueezed to `[1]`, the `Shape → Gather → Unsqueeze → Concat` idiom) is
/// the input's.
public struct Unsqueeze: AxesView, AttributedOp {
  public static let inserts = true
  public var axes: AxesOperand

  /// Reads `axes` as an attribute before opset 13.
  /// - Throws: "attribute 'axes' is required" before opset 13.
  public init(attributes: Attributes, opset: Int) throws {
    axes = try AxesOperand(attributes, opset: opset, op: "unsqueeze")
    guard axes.fromInput || axes.attribute != nil else { throw AttncError.invalid("attribute 'axes' is required") }
  }

  /// Output dims for known `axes`.
  /// - Throws: "axis 4 is out of range for rank 3"; "axes [1, -2] repeat an axis".
  func outputDims(_ dims: [Dim], axes: [Int]) throws -> [Dim] {
    let rank = dims.count + axes.count
    let normalized = try axes.map { try Shapes.normalize(axis: $0, rank: rank) }
    guard Set(normalized).count == normalized.count else {
      throw AttncError.invalid("axes \(axes) repeat an axis")
    }
    var result: [Dim] = []
    var source = dims.makeIterator()
    for axis in 0..<rank {
      if normalized.contains(axis) {
        result.append(1)
      } else if let d = source.next() {
        result.append(d)
      }
    }
    return result
  }

  /// The input dims with 1s inserted.
  /// - Throws: see `outputDims(_:axes:)`; "input 'axes' must be int64, got int32".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(self.axes.fromInput ? 2...2 : 1...1)
    let x = try inputs.required(0)
    guard self.axes.fromInput else {
      return [TensorType(x.dtype, try outputDims(x.dims, axes: self.axes.attribute ?? []))]
    }
    let (count, content) = try inputs.required(1).integerVector("axes")
    guard let axes = content.flatMap(Squeeze.constants) else {
      return [TensorType(x.dtype, (0..<(x.rank + count)).map { self.axes.fresh.dim($0) })]
    }
    return [TensorType(x.dtype, try outputDims(x.dims, axes: axes))]
  }
}
