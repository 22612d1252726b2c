import AttncKernels
import AttncTensor

/// `GatherElements(data, indices)` on `axis`: the output has the dims of `indices` and
/// `out[i][j][k] = data[indices[i][j][k]][j][k]` for axis 0 (likewise on other axes); negative
/// indices count from the end.
public struct GatherElements: Op, Evaluable {
  /// The `axis` attribute (default 0).
  public var axis: Int

  /// Reads `axis`.
  public init(attributes: Attributes, opset: Int) throws {
    axis = try attributes.int("axis", default: 0)
  }

  /// The dims of `indices`.
  /// - Throws: "indices have rank 1 but data has rank 2"; "indices must be int32 or int64, got
  ///   float32"; "axis 2 is out of range for rank 2".
  public func outputTypes(_ inputs: [ValueFact?], outputCount: Int) throws -> [TensorType] {
    try inputs.expectCount(2...2)
    let data = try inputs.required(0)
    let indices = try inputs.required(1)
    guard indices.dtype == .int64 || indices.dtype == .int32 else {
      throw AttncError.invalid("indices must be int32 or int64, got \(indices.dtype)")
    }
    guard indices.rank == data.rank else {
      throw AttncError.invalid("indices have rank \(indices.rank) but data has rank \(data.rank)")
    }
    _ = try data.type.axis(axis)
    return [TensorType(data.dtype, indices.dims)]
  }

  /// Picks one element per index; O(indices).
  /// - Throws: "index 4 is out of range for axis 1 of size 3"; "indices have 3 entries on axis 0
  ///   but data has 2".
  public func evaluate(_ inputs: [HostTensor?], outputCount: Int) throws -> [HostTensor] {
    let data = try required(inputs, 0)
    let indices = try required(inputs, 1)
    let a = try Shapes.normalize(axis: axis, rank: data.rank)
    guard indices.rank == data.rank else {
      throw AttncError.invalid("indices have rank \(indices.rank) but data has rank \(data.rank)")
    }
    for i in 0..<data.rank where i != a && indices.shape[i] > data.shape[i] {
      throw AttncError.invalid(
        "indices have \(indices.shape[i]) entries on axis \(i) but data has \(data.shape[i])")
    }
    let size = data.shape[a]
    let strides = ElementPicking.strides(data.shape)
    let values = indices.int64s()
    var elements: [Int] = []
    elements.reserveCapacity(values.count)
    var bad: Int64?
    var k = 0
    ElementPicking.forEachIndex(indices.shape) { index in
      let raw = values[k]
      k += 1
      let i = raw < 0 ? Int(raw) + size : Int(raw)
      guard i >= 0 && i < size else {
        bad = bad ?? raw
        elements.append(0)
        return
      }
      var flat = 0
      for axis in index.indices { flat += (axis == a ? i : index[axis]) * strides[axis] }
      elements.append(flat)
    }
    if let bad {
      throw AttncError.invalid("index \(bad) is out of range for axis \(a) of size \(size)")
    }
    return [ElementPicking.pick(data, shape: indices.shape, elements: elements)]
  }
}

extension GatherElements: Lowerable {
  public func lower(_ context: NodeContext) throws -> Lowering? { Lowering(GatherElementsCall(axis: axis)) }
}
