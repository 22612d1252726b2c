import AttncTensor

/// `ArgMax` along `axis` (`Selection.argMax`).
public struct ArgMaxCall: CodableKernelCall {
  public var axis: Int
  public var keepDims: Bool
  public var selectLast: Bool
  enum CodingKeys: String, CodingKey { case axis, keepDims = "keepdims", selectLast = "select_last_index" }

  public init(axis: Int, keepDims: Bool, selectLast: Bool) { (self.axis, self.keepDims, self.selectLast) = (axis, keepDims, selectLast) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    [try Selection.argMax(KernelCalls.input(inputs, 0), axis: axis, keepDims: keepDims, selectLast: selectLast)]
  }
}

/// `TopK` with `k` from input 1 (`Selection.topK`).
public struct TopKCall: CodableKernelCall {
  public var axis: Int
  public var largest: Bool

  public init(axis: Int, largest: Bool) { (self.axis, self.largest) = (axis, largest) }

  public func run(_ context: KernelContext, _ inputs: [Tensor?]) throws -> [Tensor] {
    try Selection.topK(KernelCalls.input(inputs, 0), k: KernelCalls.input(inputs, 1), axis: axis, largest: largest)
  }
}
