import AttncTensor

extension Movement {
  /// How `pad` fills the positions outside the data (ONNX `Pad`'s modes).
  public enum PadMode: String, Sendable {
    case constant, reflect, edge, wrap
  }

  /// `x` with `before[a]` elements added before and `after[a]` after axis `a` (negative counts
  /// crop), filled per `mode`; `value` is the constant (as Float for float tensors, as Int64 for
  /// integer ones).
  /// - Throws: "padding axis 1 of 0 elements in mode reflect: there is nothing to repeat";
  ///   "padding axis 0 gives -2 elements".
  public static func pad(_ x: Tensor, before: [Int], after: [Int], mode: PadMode, value: Double) throws -> Tensor {
    var shape = x.shape
    for axis in x.shape.indices {
      shape[axis] = x.shape[axis] + before[axis] + after[axis]
      guard shape[axis] >= 0 else { throw AttncError.invalid("padding axis \(axis) gives \(shape[axis]) elements") }
      if mode != .constant, x.shape[axis] == 0, shape[axis] > 0 {
        throw AttncError.invalid("padding axis \(axis) of 0 elements in mode \(mode.rawValue): there is nothing to repeat")
      }
    }
    let strides = rowMajorStrides(x.shape)
    // Per axis, the source position of each output position, or -1 for the constant.
    let sources = x.shape.indices.map { axis in
      (0..<shape[axis]).map { sourcePosition($0 - before[axis], size: x.shape[axis], mode: mode) }
    }
    var elements: [Int] = []
    elements.reserveCapacity(shape.reduce(1, *))
    forEachIndex(shape) { index in
      var flat = 0
      for axis in index.indices {
        let position = sources[axis][index[axis]]
        if position < 0 { flat = -1; break }
        flat += position * strides[axis]
      }
      elements.append(flat)
    }
    var out = Tensor(dtype: x.dtype, shape: shape)
    if x.dtype == .string {
      throw AttncError.unsupported("Pad on strings")
    } else if x.isFloat {
      let fill = Float(value)
      out.floats = FloatBuffer(elements.map { $0 < 0 ? fill : x.floats[$0] })
    } else {
      let fill = Int64(value)
      out.ints = elements.map { $0 < 0 ? fill : x.ints[$0] }
    }
    return out
  }

  /// The data position output position `i` (relative to the data's start) reads on an axis of
  /// `size` elements, or -1 for the constant.
  static func sourcePosition(_ i: Int, size: Int, mode: PadMode) -> Int {
    if i >= 0 && i < size { return i }
    switch mode {
    case .constant: return -1
    case .edge: return min(max(i, 0), size - 1)
    case .wrap: return ((i % size) + size) % size
    case .reflect:
      guard size > 1 else { return 0 }
      let period = 2 * (size - 1)
      let folded = ((i % period) + period) % period
      return folded < size ? folded : period - folded
    }
  }
}
