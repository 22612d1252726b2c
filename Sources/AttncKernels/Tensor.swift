import AttncTensor

/// A tensor as kernels compute on it: floating-point types widened to Float32, integers and
/// bool as Int64 (bool 0/1), strings as strings. `dtype` is the logical element type.
public struct Tensor: Sendable {
  public var dtype: DType
  public var shape: [Int]
  /// Elements of a floating-point tensor (empty otherwise): an owned array or arena memory.
  public var floats: FloatBuffer
  /// Elements of an integer or bool tensor (empty otherwise).
  public var ints: [Int64]
  /// Elements of a string tensor (empty otherwise).
  public var strings: [String]

  public var count: Int { shape.reduce(1, *) }
  public var rank: Int { shape.count }
  public var isFloat: Bool { dtype.isFloatingPoint }

  public init(dtype: DType, shape: [Int], floats: FloatBuffer = [], ints: [Int64] = [], strings: [String] = []) {
    self.dtype = dtype
    self.shape = shape
    self.floats = floats
    self.ints = ints
    self.strings = strings
  }

  public init(dtype: DType, shape: [Int], floats: [Float], ints: [Int64] = [], strings: [String] = []) {
    self.init(dtype: dtype, shape: shape, floats: FloatBuffer(floats), ints: ints, strings: strings)
  }

  public static func float(_ values: [Float], _ shape: [Int], dtype: DType = .float) -> Tensor {
    Tensor(dtype: dtype, shape: shape, floats: FloatBuffer(values))
  }

  public static func float(_ values: FloatBuffer, _ shape: [Int], dtype: DType = .float) -> Tensor {
    Tensor(dtype: dtype, shape: shape, floats: values)
  }

  public static func int(_ values: [Int64], _ shape: [Int], dtype: DType = .int64) -> Tensor {
    Tensor(dtype: dtype, shape: shape, ints: values)
  }

  /// Converts stored data (weights, inputs) into the compute form.
  public init(_ host: HostTensor) {
    dtype = host.dtype
    shape = host.shape
    floats = []
    ints = []
    strings = []
    if host.dtype == .string {
      strings = host.strings
    } else if host.dtype.isFloatingPoint {
      if host.dtype == .float {
        floats = FloatBuffer(host.storage.bytes.withMemoryRebound(to: Float.self) { Array($0.prefix(host.count)) })
      } else {
        floats = FloatBuffer(host.floats())
      }
    } else {
      ints = host.int64s()
    }
  }

  /// Converts back to stored form in `dtype` (rounding to the narrower float formats).
  public var host: HostTensor {
    if dtype == .string { return HostTensor(strings: strings, shape: shape) }
    if dtype == .float { return HostTensor(floats: floats.owned, shape: shape) }
    if isFloat { return HostTensor(dtype: dtype, shape: shape, converting: floats.map { Double($0) }) }
    return HostTensor(dtype: dtype, shape: shape, integers: ints)
  }

  /// Same elements, new shape.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    var copy = self
    copy.shape = newShape
    return copy
  }

  /// A tensor of `shape` whose element `i` is element `elements[i]` of this one.
  public func picking(_ elements: [Int], shape: [Int]) -> Tensor {
    var out = Tensor(dtype: dtype, shape: shape)
    if dtype == .string {
      out.strings = elements.map { strings[$0] }
    } else if isFloat {
      out.floats = FloatBuffer(elements.map { floats[$0] })
    } else {
      out.ints = elements.map { ints[$0] }
    }
    return out
  }
}

/// Row-major strides of `shape`.
public func rowMajorStrides(_ shape: [Int]) -> [Int] {
  var result = [Int](repeating: 1, count: shape.count)
  var step = 1
  for axis in stride(from: shape.count - 1, through: 0, by: -1) {
    result[axis] = step
    step *= shape[axis]
  }
  return result
}

/// For every element of a row-major walk over `shape`, the flat offset `Σ index[axis]·strides[axis]`
/// (strides may be permuted for a transpose, or 0 on broadcast axes).
public func stridedOffsets(_ shape: [Int], strides: [Int]) -> [Int] {
  let count = shape.reduce(1, *)
  var result = [Int](repeating: 0, count: count)
  var index = [Int](repeating: 0, count: shape.count)
  var offset = 0
  for flat in 0..<count {
    result[flat] = offset
    stepOdometer(&index, &offset, dims: shape, steps: strides)
  }
  return result
}

/// One step of a row-major walk over `dims`: the multi-index `index` moves to the next element
/// and `offset` (`Σ index[axis]·steps[axis]`) follows it; past the last element both return to 0.
@inline(__always) func stepOdometer(_ index: inout [Int], _ offset: inout Int, dims: [Int], steps: [Int]) {
  var axis = dims.count - 1
  while axis >= 0 {
    index[axis] += 1
    offset += steps[axis]
    if index[axis] < dims[axis] { break }
    offset -= steps[axis] * index[axis]
    index[axis] = 0
    axis -= 1
  }
}

/// Normalises `axis` against `rank`, throwing "axis A is out of range for rank R".
public func normalizedAxis(_ axis: Int, rank: Int) throws -> Int {
  try Shapes.normalize(axis: axis, rank: rank)
}
